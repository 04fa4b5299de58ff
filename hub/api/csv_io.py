"""CSV import and export over REST, for supervisors and admins."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import query_choice
from hub.api.segments import segment_condition, segment_param
from hub.api.spec import Param, operation
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.crm_link.csv_export import export_rows
from hub.crm_link.csv_import import ImportReport, import_companies, import_contacts
from hub.db.models import Contact, utcnow
from hub.errors import Forbidden

routes = web.RouteTableDef()

MAX_CSV = 900_000  # characters; the body limit (max_body_bytes) applies too. Bigger files: `hub contacts import`.
Column = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Target = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]


class ImportBody(msgspec.Struct, forbid_unknown_fields=True):
    """``csv``: the file's text; ``mapping``: column -> target (docs/crm.md, "CSV")."""

    csv: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CSV)]
    mapping: Annotated[dict[Column, Target], msgspec.Meta(min_length=1, max_length=200)]
    dry_run: bool = False
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    delimiter: Literal[",", ";", "\t"] | None = None


class RowErrorView(msgspec.Struct):
    row: int
    column: str | None
    message: str


class RowResultView(msgspec.Struct):
    row: int
    action: Literal["created", "updated", "failed"]
    contact_id: int | None


class ImportReportView(msgspec.Struct):
    """Row numbers count the header as row 1; a dry run reports what the real run would do."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    failed: int
    results: list[RowResultView]
    errors: list[RowErrorView]


async def _staff(request: web.Request) -> Principal:
    principal = await authenticate(request)
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins import and export contacts")
    return principal


@operation(
    "GET",
    "/api/v1/exports/contacts.csv",
    summary="Contacts as CSV (formulas made inert), optionally of one segment",
    tag="contacts",
    response=bytes,
    params=(segment_param("the export"),
            Param("delimiter", "query", {"type": "string", "enum": [",", ";"]}, "the column separator (default ,)")),
    errors=(400, 401, 403, 404),
)
@routes.get("/api/v1/exports/contacts.csv")
async def export_csv(request: web.Request) -> web.StreamResponse:
    """Streamed; one column per defined attribute."""
    principal = await _staff(request)
    delimiter = query_choice(request, "delimiter", (",", ";")) or ","
    where = [contact_scope(principal, Contact.id.expression)]
    in_segment = await segment_condition(request, Contact.id.expression)
    if in_segment is not None:
        where.append(in_segment)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="contacts-{utcnow():%Y%m%d-%H%M%S}.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    async for chunk in export_rows(request.app[SERVICES], where, delimiter=delimiter):
        await response.write(chunk)
    await response.write_eof()
    return response


@operation(
    "POST",
    "/api/v1/imports/contacts",
    summary="Import contacts from CSV (mapping, dedupe by identity, dry run, a report per row)",
    tag="contacts",
    request=ImportBody,
    response=ImportReportView,
    errors=(400, 401, 403, 413, 422),
)
@routes.post("/api/v1/imports/contacts")
async def post_contact_import(request: web.Request) -> web.Response:
    """Mapping targets: name, email, phone, platform, company, lifecycle_stage, tags, attribute:<key>, ignore."""
    principal = await _staff(request)
    body = await read_json(request, ImportBody)
    report = await import_contacts(
        request.app[SERVICES], body.csv, body.mapping, actor=principal, dry_run=body.dry_run, region=body.region,
        delimiter=body.delimiter,
    )
    return json_response(_view(report))


@operation(
    "POST",
    "/api/v1/imports/companies",
    summary="Import companies from CSV (matched by domain, else name)",
    tag="companies",
    request=ImportBody,
    response=ImportReportView,
    errors=(400, 401, 403, 413, 422),
)
@routes.post("/api/v1/imports/companies")
async def post_company_import(request: web.Request) -> web.Response:
    """Mapping targets: name, domain, ignore."""
    await _staff(request)
    body = await read_json(request, ImportBody)
    report = await import_companies(
        request.app[SERVICES], body.csv, body.mapping, dry_run=body.dry_run, delimiter=body.delimiter
    )
    return json_response(_view(report))


def _view(report: ImportReport) -> ImportReportView:
    return ImportReportView(
        dry_run=report.dry_run,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        failed=report.failed,
        results=[RowResultView(r.row, r.action, r.contact_id) for r in report.results],
        errors=[RowErrorView(e.row, e.column, e.message) for e in report.errors],
    )
