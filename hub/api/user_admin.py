"""Staff accounts for admins: read one user, change name, role, language, queues, skills, active, password.

Creating and listing users lives in ``hub.api.auth``; this module adds what the admin
page needs to keep accounts current. Every change is audited (``hub.auth.user_admin``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from hub.api.contact_views import PRINTABLE
from hub.api.guard import require_role
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.auth import accounts
from hub.auth.directory import UserView, get_user
from hub.auth.principal import Role
from hub.auth.user_admin import UserChanges, update_user

routes = web.RouteTableDef()

SkillName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
QueueName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Locale = Annotated[str, msgspec.Meta(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")]


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; leave one out to keep it. ``locale`` null clears it (the browser's language applies).

    ``queues`` and ``skills`` replace the whole set. ``password`` sets a new one and ends
    the user's browser sessions.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PRINTABLE)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    role: Literal["agent", "supervisor", "admin"] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | None | msgspec.UnsetType = msgspec.UNSET
    queues: Annotated[list[QueueName], msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    skills: dict[SkillName, int] | msgspec.UnsetType = msgspec.UNSET
    password: Annotated[str, msgspec.Meta(max_length=1024)] | msgspec.UnsetType = msgspec.UNSET



@operation("GET", "/api/v1/users/{id}", summary="A staff user (supervisors and admins)", tag="users",
           response=UserView, params=(id_path_param(description="user id"),), errors=(401, 403, 404))
@routes.get("/api/v1/users/{id}")
async def get_one(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    return json_response(await get_user(request.app[SERVICES], path_id(request)))


@operation("PATCH", "/api/v1/users/{id}", summary="Change a staff user (admins); audited",
           tag="users", request=UserPatch, response=UserView, params=(id_path_param(description="user id"),),
           errors=(400, 401, 403, 404, 409, 422))
@routes.patch("/api/v1/users/{id}")
async def patch(request: web.Request) -> web.Response:
    """409 when admins would demote or deactivate themselves."""
    principal = await require_role(request, Role.ADMIN)
    user_id = path_id(request)
    body = await read_json(request, UserPatch)
    services = request.app[SERVICES]
    if not isinstance(body.password, msgspec.UnsetType):
        accounts.check_password(body.password)
    changes = UserChanges(
        name=body.name if isinstance(body.name, str) else None,
        role=body.role if isinstance(body.role, str) else None,
        active=body.active if isinstance(body.active, bool) else None,
        locale=body.locale if isinstance(body.locale, str) else None,
        clear_locale=body.locale is None,
        queues=None if isinstance(body.queues, msgspec.UnsetType) else list(body.queues),
        skills=None if isinstance(body.skills, msgspec.UnsetType) else dict(body.skills),
    )
    await update_user(services, principal, user_id, changes)
    if not isinstance(body.password, msgspec.UnsetType):
        await accounts.set_password(services, user_id=user_id, password=body.password, actor_id=principal.user_id)
    return json_response(await get_user(services, user_id))
