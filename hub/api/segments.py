"""Saved segments over REST: everyone lists and uses them; supervisors and admins define them.

Use a segment as a contact list (``GET /api/v1/contacts?segment=ID``), an inbox view
(``GET /api/v1/conversations?segment=ID``) or a CSV export
(``GET /api/v1/exports/contacts.csv?segment=ID``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web
from sqlalchemy import ColumnElement, select

from hub.api.contact_views import PRINTABLE
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import ID_SCHEMA, id_path_param, path_id, query_int
from hub.api.spec import Param, operation
from hub.crm_link.segment_store import (
    create_segment,
    delete_segment,
    load_definition,
    update_segment,
)
from hub.crm_link.segments import contact_filter
from hub.db.models import Segment, utcnow
from hub.errors import NotFound
from hub.services import Services

routes = web.RouteTableDef()

SegmentName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
Description = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00]*$")]


class SegmentBody(msgspec.Struct, forbid_unknown_fields=True):
    """A segment: ``definition`` as in docs/crm.md ("Segments")."""

    name: SegmentName
    definition: dict[str, Any]
    description: Description | None = None


class SegmentView(msgspec.Struct):
    id: int
    name: str
    description: str | None
    definition: dict[str, Any]
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class SegmentList(msgspec.Struct):
    items: list[SegmentView]


@operation("GET", "/api/v1/segments", summary="Saved segments, by name", tag="segments", response=SegmentList,
           errors=(401,))
@routes.get("/api/v1/segments")
async def list_segments(request: web.Request) -> web.Response:
    """Every segment."""
    await authenticate(request)
    return await _segments(request.app[SERVICES])


async def _segments(services: Services) -> web.Response:
    async with services.sessions() as session:
        segments = (await session.scalars(select(Segment).order_by(Segment.name))).all()
    return json_response(SegmentList(items=[_view(s) for s in segments]))


@operation("POST", "/api/v1/segments", summary="Save a segment", tag="segments", request=SegmentBody,
           response=SegmentView, status=201, errors=(400, 401, 403, 409, 413, 422))
@routes.post("/api/v1/segments")
async def post_segment(request: web.Request) -> web.Response:
    """Supervisors and admins; 422 for a definition that does not parse, 409 for a name in use."""
    principal = await authenticate(request)
    body = await read_json(request, SegmentBody)
    segment = await create_segment(request.app[SERVICES], principal, body.name, body.description, body.definition)
    return json_response(_view(segment), status=201)


@operation("GET", "/api/v1/segments/{id}", summary="A segment", tag="segments", response=SegmentView,
           params=(id_path_param(description="segment id"),), errors=(401, 404))
@routes.get("/api/v1/segments/{id}")
async def get_segment(request: web.Request) -> web.Response:
    """One segment."""
    await authenticate(request)
    async with request.app[SERVICES].sessions() as session:
        segment = await session.get(Segment, path_id(request))
    if segment is None:
        raise NotFound("no such segment")
    return json_response(_view(segment))


@operation("PUT", "/api/v1/segments/{id}", summary="Replace a segment's name, description and definition",
           tag="segments", request=SegmentBody, response=SegmentView,
           params=(id_path_param(description="segment id"),), errors=(400, 401, 403, 404, 409, 413, 422))
@routes.put("/api/v1/segments/{id}")
async def put_segment(request: web.Request) -> web.Response:
    """Supervisors and admins."""
    principal = await authenticate(request)
    segment_id = path_id(request)
    body = await read_json(request, SegmentBody)
    segment = await update_segment(
        request.app[SERVICES], principal, segment_id, body.name, body.description, body.definition
    )
    return json_response(_view(segment))


@operation("DELETE", "/api/v1/segments/{id}", summary="Delete a segment", tag="segments", response=SegmentList,
           params=(id_path_param(description="segment id"),), errors=(401, 403, 404))
@routes.delete("/api/v1/segments/{id}")
async def remove_segment(request: web.Request) -> web.Response:
    """Supervisors and admins; the remaining segments."""
    principal = await authenticate(request)
    await delete_segment(request.app[SERVICES], principal, path_id(request))
    return await _segments(request.app[SERVICES])


def segment_param(what: str) -> Param:
    """The ``segment`` query parameter of lists that segments filter."""
    return Param("segment", "query", ID_SCHEMA, f"only {what} of contacts in this saved segment")


async def segment_condition(request: web.Request, column: ColumnElement[int]) -> ColumnElement[bool] | None:
    """The WHERE clause for ``?segment=ID`` on ``column`` (a contact id), None without it; 404 for no segment."""
    segment_id = query_int(request, "segment")
    if segment_id is None:
        return None
    async with request.app[SERVICES].sessions() as session:
        definition = await load_definition(session, segment_id)
    return contact_filter(definition, column, now=utcnow())


def _view(segment: Segment) -> SegmentView:
    return SegmentView(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        definition=dict(segment.definition),
        created_by=segment.created_by,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )
