"""The signed-in user's own settings (``PATCH /api/v1/me``): for now the UI language."""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web
from sqlalchemy import update

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.spec import operation
from hub.auth.directory import UserView, get_user
from hub.db.models import User


class PreferencesBody(msgspec.Struct, forbid_unknown_fields=True):
    """``locale``: the UI language (``de`` or ``en``), or null to follow the browser."""

    locale: Literal["de", "en"] | None


routes = web.RouteTableDef()


@operation(
    "PATCH",
    "/api/v1/me",
    summary="Change your own settings: the UI language (null follows the browser)",
    tag="auth",
    request=PreferencesBody,
    response=UserView,
    errors=(400, 401, 403, 422),
)
@routes.patch("/api/v1/me")
async def patch_me(request: web.Request) -> web.Response:
    """200 with the user after the change."""
    principal = await authenticate(request)
    body = await read_json(request, PreferencesBody)
    services = request.app[SERVICES]
    async with services.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == principal.user_id).values(locale=body.locale))
    return json_response(await get_user(services, principal.user_id))
