"""Saved inbox views, one list per user: ``/api/v1/me/views``.

A view is a name and the list filters it stands for (``params``: the built-in view
and the query parameters of ``GET /api/v1/conversations``). Nobody sees another
user's views; another user's id reads as 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.db.models import SavedView
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.validation import ensure_storable

routes = web.RouteTableDef()

MAX_VIEWS = 50
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ViewParams(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The built-in view and the list filters; each as ``GET /api/v1/conversations`` takes it."""

    view: Literal["mine", "unassigned", "queues", "all"] = "mine"
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    channel: Short | None = None
    tag: Short | None = None
    priority_min: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    segment: Annotated[int, msgspec.Meta(ge=1)] | None = None


class SavedViewBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    params: ViewParams


class SavedViewOut(msgspec.Struct):
    id: int
    name: str
    params: ViewParams
    created_at: datetime


class SavedViewList(msgspec.Struct):
    items: list[SavedViewOut]
    next: str | None = None


def _out(row: SavedView) -> SavedViewOut:
    return SavedViewOut(row.id, row.name, msgspec.convert(row.params, ViewParams), row.created_at)


@operation("GET", "/api/v1/me/views", summary="Your saved inbox views", tag="auth", response=SavedViewList, errors=(401,))
@routes.get("/api/v1/me/views")
async def list_views(request: web.Request) -> web.Response:
    """Every saved view of the caller, by name."""
    principal = await authenticate(request)
    async with request.app[SERVICES].sessions() as session:
        rows = (
            await session.scalars(
                select(SavedView).where(SavedView.user_id == principal.user_id).order_by(SavedView.name, SavedView.id)
            )
        ).all()
    return json_response(SavedViewList([_out(r) for r in rows]))


@operation(
    "POST",
    "/api/v1/me/views",
    summary="Save an inbox view under a name (unique per user)",
    tag="auth",
    request=SavedViewBody,
    response=SavedViewOut,
    status=201,
    errors=(400, 401, 403, 409, 422),
)
@routes.post("/api/v1/me/views")
async def create_view(request: web.Request) -> web.Response:
    """201 with the saved view; 409 when the name is taken, 422 past the limit."""
    principal = await authenticate(request)
    body = await read_json(request, SavedViewBody)
    name = body.name.strip()
    if not name:
        raise ValidationFailed("the view needs a name")
    ensure_storable(name=name, q=body.params.q, channel=body.params.channel, tag=body.params.tag)
    params = msgspec.to_builtins(body.params)
    services = request.app[SERVICES]
    try:
        async with services.sessions() as session, session.begin():
            count = await session.scalar(
                select(func.count()).select_from(SavedView).where(SavedView.user_id == principal.user_id)
            )
            if (count or 0) >= MAX_VIEWS:
                raise ValidationFailed(f"at most {MAX_VIEWS} saved views per user")
            row = SavedView(user_id=principal.user_id, name=name, params=params)
            session.add(row)
            await session.flush()
            out = _out(row)
    except IntegrityError:
        raise Conflict(f"you already have a view named {name!r}") from None
    return json_response(out, status=201)


@operation(
    "DELETE",
    "/api/v1/me/views/{id}",
    summary="Delete one of your saved views",
    tag="auth",
    status=204,
    params=(id_path_param(description="saved view id"),),
    errors=(400, 401, 403, 404),
)
@routes.delete("/api/v1/me/views/{id}")
async def delete_view(request: web.Request) -> web.Response:
    """204; another user's view reads as 404."""
    principal = await authenticate(request)
    view_id = path_id(request)
    async with request.app[SERVICES].sessions() as session, session.begin():
        result = await session.execute(
            delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == principal.user_id)
        )
    if not getattr(result, "rowcount", 0):
        raise NotFound("no such view")
    return web.Response(status=204)
