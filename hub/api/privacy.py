"""Data-subject requests over REST: export (Art. 15/20) and erasure (Art. 17), for admins."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.crm_link.erasure import ErasureReport, erase_contact, preview_erasure
from hub.crm_link.export import export_contact

routes = web.RouteTableDef()

CHUNK = 1 << 16


class TableErasure(msgspec.Struct):
    """Rows of one table: ``scrub`` blanks ``columns`` and keeps the row, ``delete`` removes it."""

    rows: int
    action: str
    columns: list[str]


class ErasureView(msgspec.Struct):
    """What an erasure removes (preview) or removed; counts only. ``audit_id`` names the certificate."""

    contact_id: int
    contact_ids: list[int]
    tables: dict[str, TableErasure]
    blobs: int
    swept: dict[str, int]
    redis_keys: int
    cancelled_replies: int
    resolved_conversations: int
    audit_id: int | None
    erased_at: datetime | None
    database_compacted: bool | None


@operation(
    "GET",
    "/api/v1/contacts/{id}/export",
    summary="Everything held on the contact as a ZIP: contact.json plus attachments (Art. 15/20)",
    tag="privacy",
    response=bytes,
    params=(id_path_param(description="contact id"),),
    errors=(401, 403, 404),
)
@routes.get("/api/v1/contacts/{id}/export")
async def get_export(request: web.Request) -> web.StreamResponse:
    """Admins only; the export is logged in the audit log and on the timeline."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    export = await export_contact(request.app[SERVICES], principal, contact_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    response.content_length = export.size
    try:
        await response.prepare(request)
        while chunk := await asyncio.to_thread(export.file.read, CHUNK):
            await response.write(chunk)
        await response.write_eof()
    finally:
        export.file.close()
    return response


@operation(
    "GET",
    "/api/v1/contacts/{id}/erasure",
    summary="Preview what erasing the contact would remove",
    tag="privacy",
    response=ErasureView,
    params=(id_path_param(description="contact id"),),
    errors=(401, 403, 404),
)
@routes.get("/api/v1/contacts/{id}/erasure")
async def get_erasure(request: web.Request) -> web.Response:
    """Admins only; changes nothing."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    return json_response(_view(await preview_erasure(request.app[SERVICES], principal, contact_id)))


@operation(
    "POST",
    "/api/v1/contacts/{id}/erasure",
    summary="Erase the contact's personal data (Art. 17); statistics stay, a certificate goes to the audit log",
    tag="privacy",
    response=ErasureView,
    params=(id_path_param(description="contact id"),),
    errors=(401, 403, 404, 409),
)
@routes.post("/api/v1/contacts/{id}/erasure")
async def post_erasure(request: web.Request) -> web.Response:
    """Admins only; 409 when erased already or while processing is restricted."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    return json_response(_view(await erase_contact(request.app[SERVICES], principal, contact_id)))


def _view(report: ErasureReport) -> ErasureView:
    tables: dict[str, Any] = {
        name: TableErasure(rows=entry["rows"], action=entry["action"], columns=entry["columns"])
        for name, entry in report.tables.items()
    }
    return ErasureView(
        contact_id=report.contact_id,
        contact_ids=report.contact_ids,
        tables=tables,
        blobs=report.blobs,
        swept=report.swept,
        redis_keys=report.redis_keys,
        cancelled_replies=report.cancelled_replies,
        resolved_conversations=report.resolved_conversations,
        audit_id=report.audit_id,
        erased_at=report.erased_at,
        database_compacted=report.database_compacted,
    )
