"""Companies (accounts) and the admins' custom attribute definitions over REST.

Everyone reads companies and definitions; supervisors and admins maintain companies,
admins define attributes. A company's contacts: ``GET /api/v1/contacts?company=ID``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api import cursor
from hub.api.contact_views import PRINTABLE
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    like_pattern,
    limit_param,
    path_id,
    query_limit,
    query_text,
    single,
    storable,
)
from hub.api.spec import Param, operation
from hub.crm_link.attributes import KEY_PATTERN, define_attribute, definitions, remove_attribute
from hub.crm_link.companies import create_company, update_company
from hub.db.models import AttributeDefinition, Company, Contact
from hub.errors import NotFound
from hub.services import Services

routes = web.RouteTableDef()

CompanyName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PRINTABLE)]
Domain = Annotated[str, msgspec.Meta(max_length=253, pattern=PRINTABLE)]


class CompanyBody(msgspec.Struct, forbid_unknown_fields=True):
    name: CompanyName
    domain: Domain | None = None


class CompanyPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: CompanyName | msgspec.UnsetType = msgspec.UNSET
    domain: Domain | None | msgspec.UnsetType = msgspec.UNSET


class CompanyView(msgspec.Struct):
    """A company; ``contacts`` counts its (not merged away) contacts."""

    id: int
    name: str
    domain: str | None
    contacts: int
    created_at: datetime


class CompanyPage(msgspec.Struct):
    items: list[CompanyView]
    next: str | None


class AttributeBody(msgspec.Struct, forbid_unknown_fields=True):
    """A custom attribute: ``choices`` only (and required) for type ``choice``."""

    key: Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PRINTABLE)]
    type: Literal["text", "number", "date", "choice"]
    choices: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]], msgspec.Meta(max_length=100)] = []


class AttributeView(msgspec.Struct):
    key: str
    label: str
    type: str
    choices: list[str]


class AttributeList(msgspec.Struct):
    items: list[AttributeView]


@operation(
    "GET",
    "/api/v1/companies",
    summary="Companies, by name",
    tag="companies",
    response=CompanyPage,
    params=(
        Param("q", "query", {"type": "string", "maxLength": 200}, "text in the name or domain"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401),
)
@routes.get("/api/v1/companies")
async def list_companies(request: web.Request) -> web.Response:
    """One page of companies, newest first."""
    await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    text = (query_text(request, "q", max_length=200) or "").strip()
    after = single(request, "cursor")
    stmt = select(Company)
    if text:
        pattern = like_pattern(text)
        stmt = stmt.where(
            (Company.name.ilike(pattern, escape="\\") | Company.domain.ilike(pattern, escape="\\"))
            if storable(text) else false()
        )
    if after is not None:
        stmt = stmt.where(Company.id < cursor.id_only(services.settings.secret_key, "companies", after))
    stmt = stmt.order_by(Company.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        companies = list((await session.scalars(stmt)).all())
        items = await _views(session, companies[:limit])
    next_cursor = cursor.next_by_id(services.settings.secret_key, "companies", companies, limit, lambda c: c.id)
    return json_response(CompanyPage(items=items, next=next_cursor))


@operation(
    "POST",
    "/api/v1/companies",
    summary="Create a company",
    tag="companies",
    request=CompanyBody,
    response=CompanyView,
    status=201,
    errors=(400, 401, 403, 413, 422),
)
@routes.post("/api/v1/companies")
async def post_company(request: web.Request) -> web.Response:
    """Supervisors and admins."""
    principal = await authenticate(request)
    body = await read_json(request, CompanyBody)
    services = request.app[SERVICES]
    company = await create_company(services, principal, body.name, body.domain)
    return json_response(await _one(services, company.id), status=201)


@operation(
    "GET",
    "/api/v1/companies/{id}",
    summary="A company",
    tag="companies",
    response=CompanyView,
    params=(id_path_param(description="company id"),),
    errors=(401, 404),
)
@routes.get("/api/v1/companies/{id}")
async def get_company(request: web.Request) -> web.Response:
    """The company with its number of contacts."""
    await authenticate(request)
    return json_response(await _one(request.app[SERVICES], path_id(request)))


@operation(
    "PATCH",
    "/api/v1/companies/{id}",
    summary="Rename a company or change its domain",
    tag="companies",
    request=CompanyPatch,
    response=CompanyView,
    params=(id_path_param(description="company id"),),
    errors=(400, 401, 403, 404, 413, 422),
)
@routes.patch("/api/v1/companies/{id}")
async def patch_company(request: web.Request) -> web.Response:
    """Supervisors and admins."""
    principal = await authenticate(request)
    company_id = path_id(request)
    services = request.app[SERVICES]
    body = await read_json(request, CompanyPatch)
    await update_company(services, principal, company_id, name=body.name, domain=body.domain)
    return json_response(await _one(services, company_id))


@operation(
    "GET",
    "/api/v1/attributes",
    summary="The custom attributes admins defined",
    tag="contacts",
    response=AttributeList,
    errors=(401,),
)
@routes.get("/api/v1/attributes")
async def list_attributes(request: web.Request) -> web.Response:
    """Every definition by key."""
    await authenticate(request)
    return await _attributes(request.app[SERVICES])


async def _attributes(services: Services) -> web.Response:
    async with services.sessions() as session:
        found = await definitions(session)
    return json_response(AttributeList(items=[_attribute(d) for d in found.values()]))


@operation(
    "POST",
    "/api/v1/attributes",
    summary="Define a custom attribute (text, number, date, choice)",
    tag="contacts",
    request=AttributeBody,
    response=AttributeView,
    status=201,
    errors=(400, 401, 403, 409, 413, 422),
)
@routes.post("/api/v1/attributes")
async def post_attribute(request: web.Request) -> web.Response:
    """Admins; values already stored under the key are not rechecked."""
    principal = await authenticate(request)
    body = await read_json(request, AttributeBody)
    definition = await define_attribute(
        request.app[SERVICES], principal, body.key, body.label, body.type, body.choices
    )
    return json_response(_attribute(definition), status=201)


@operation(
    "DELETE",
    "/api/v1/attributes/{key}",
    summary="Remove an attribute definition (stored values stay, free-form)",
    tag="contacts",
    response=AttributeList,
    params=(Param("key", "path", {"type": "string", "pattern": KEY_PATTERN}, "attribute key", required=True),),
    errors=(401, 403, 404),
)
@routes.delete("/api/v1/attributes/{key}")
async def delete_attribute(request: web.Request) -> web.Response:
    """Admins; the remaining definitions."""
    principal = await authenticate(request)
    await remove_attribute(request.app[SERVICES], principal, request.match_info["key"])
    return await _attributes(request.app[SERVICES])


async def _views(session: AsyncSession, companies: list[Company]) -> list[CompanyView]:
    counts = dict(
        (
            await session.execute(
                select(Contact.company_id, func.count())
                .where(Contact.company_id.in_([c.id for c in companies]), Contact.merged_into_id.is_(None))
                .group_by(Contact.company_id)
            )
        ).all()
    )
    return [CompanyView(c.id, c.name, c.domain, int(counts.get(c.id, 0)), c.created_at) for c in companies]


async def _one(services: Services, company_id: int) -> CompanyView:
    async with services.sessions() as session:
        company = await session.get(Company, company_id)
        if company is None:
            raise NotFound("no such company")
        (view,) = await _views(session, [company])
    return view


def _attribute(definition: AttributeDefinition) -> AttributeView:
    return AttributeView(
        definition.key, definition.label, definition.type, list((definition.choices or {}).get("values", []))
    )
