"""``GET /api/v1/colleagues``: the active staff by name, for assigning and @mentions in the UI.

Names, roles and ids only (no email): every signed-in user may read them.
"""

from __future__ import annotations

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.spec import operation
from hub.db.models import User

routes = web.RouteTableDef()


class Colleague(msgspec.Struct):
    """A staff member as other staff see them."""

    id: int
    name: str
    role: str


class ColleagueList(msgspec.Struct):
    items: list[Colleague]
    next: str | None = None


@operation(
    "GET",
    "/api/v1/colleagues",
    summary="Active staff users by name (id, name, role) for assignment and mentions",
    tag="users",
    response=ColleagueList,
    errors=(401,),
)
@routes.get("/api/v1/colleagues")
async def list_colleagues(request: web.Request) -> web.Response:
    """Every active user, by name."""
    await authenticate(request)
    async with request.app[SERVICES].sessions() as session:
        rows = (
            await session.execute(
                select(User.id, User.name, User.role).where(User.active.is_(True)).order_by(User.name, User.id)
            )
        ).all()
    return json_response(ColleagueList(items=[Colleague(id, name, role) for id, name, role in rows]))
