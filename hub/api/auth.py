"""Auth routes: browser login/logout, the current user, API tokens, users and the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from hub.api import cursor
from hub.api.guard import SESSION_COOKIE, authenticate, require_role
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import cursor_param, id_path_param, path_id, query_int, query_text
from hub.api.spec import Param, operation
from hub.auth import accounts
from hub.auth.audit import AuditView, list_audit
from hub.auth.directory import TokenView, UserView, get_user, list_tokens, list_users
from hub.auth.principal import Role
from hub.auth.ratelimit import LoginRateLimit, build_login_limit

routes = web.RouteTableDef()

LOGIN_LIMIT = web.AppKey("login_limit", LoginRateLimit)
MAX_PAGE = 200
DEFAULT_PAGE = 50
PAGE_PARAMS = (
    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}, "page size"),
    cursor_param(),
)
NO_STORE = {"Cache-Control": "no-store"}

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]


async def login_limit(app: web.Application) -> AsyncIterator[None]:
    """Lifecycle of the login rate limit (in memory, or shared through Redis).

    A limit set on the app before it starts is used (and closed) instead.
    """
    limit = app.get(LOGIN_LIMIT)
    if limit is None:
        limit = build_login_limit(app[SERVICES].settings)
        app[LOGIN_LIMIT] = limit
    yield
    await limit.aclose()


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class LoginOk(msgspec.Struct):
    user: UserView
    csrf_token: str


class NewTokenBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class NewToken(msgspec.Struct):
    id: int
    name: str
    token: str


class TokenList(msgspec.Struct):
    items: list[TokenView]
    next: str | None


class NewUserBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Literal["agent", "supervisor", "admin"]
    password: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    queues: list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]] = []
    skills: dict[Annotated[str, msgspec.Meta(min_length=1, max_length=100)], int] = {}
    locale: Annotated[str, msgspec.Meta(min_length=2, max_length=16)] | None = None


class UserList(msgspec.Struct):
    items: list[UserView]
    next: str | None


class AuditList(msgspec.Struct):
    items: list[AuditView]
    next: str | None


@operation(
    "POST",
    "/api/v1/auth/login",
    summary="Log in with email and password; sets the hub_session cookie",
    tag="auth",
    request=LoginBody,
    response=LoginOk,
    auth="none",
    errors=(400, 401, 422, 429, 503),
)
@routes.post("/api/v1/auth/login")
async def post_login(request: web.Request) -> web.Response:
    """Check the credentials, open a session, and hand the browser its cookie and CSRF token."""
    services = request.app[SERVICES]
    body = await read_json(request, LoginBody)
    result = await accounts.login(
        services,
        body.email,
        body.password,
        request.remote,
        limit=request.app[LOGIN_LIMIT],
        replaces=request.cookies.get(SESSION_COOKIE),
    )
    user = await get_user(services, result.user_id)
    response = json_response(LoginOk(user=user, csrf_token=result.csrf_token), headers=NO_STORE)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=services.settings.cookie_secure,
    )
    return response


@operation(
    "POST",
    "/api/v1/auth/logout",
    summary="End the browser session and clear its cookie",
    tag="auth",
    status=204,
    errors=(401, 403),
)
@routes.post("/api/v1/auth/logout")
async def post_logout(request: web.Request) -> web.Response:
    """Delete the session row (CSRF-checked like every cookie write) and clear the cookie."""
    principal = await authenticate(request)
    response = web.Response(status=204)
    if principal.via == "session":
        await accounts.logout(request.app[SERVICES], request.cookies[SESSION_COOKIE])
        response.del_cookie(
            SESSION_COOKIE, path="/", secure=request.app[SERVICES].settings.cookie_secure, httponly=True, samesite="Lax"
        )
    return response


@operation("GET", "/api/v1/me", summary="The current user", tag="auth", response=UserView, errors=(401,))
@routes.get("/api/v1/me")
async def get_me(request: web.Request) -> web.Response:
    """The logged-in user with role, queues and locale."""
    principal = await authenticate(request)
    return json_response(await get_user(request.app[SERVICES], principal.user_id))


@operation("GET", "/api/v1/tokens", summary="Your API tokens (never the secret)", tag="auth", response=TokenList, errors=(401,))
@routes.get("/api/v1/tokens")
async def get_tokens(request: web.Request) -> web.Response:
    """The caller's own tokens, newest first, revoked ones included."""
    principal = await authenticate(request)
    return json_response(TokenList(items=await list_tokens(request.app[SERVICES], principal.user_id), next=None))


@operation(
    "POST",
    "/api/v1/tokens",
    summary="Create an API token for yourself; the token is shown only in this response",
    tag="auth",
    request=NewTokenBody,
    response=NewToken,
    status=201,
    errors=(400, 401, 403, 422),
)
@routes.post("/api/v1/tokens")
async def post_token(request: web.Request) -> web.Response:
    """A new bearer token for the caller."""
    principal = await authenticate(request)
    body = await read_json(request, NewTokenBody)
    token_id, plain = await accounts.create_token(
        request.app[SERVICES], user_id=principal.user_id, name=body.name, actor_id=principal.user_id
    )
    return json_response(NewToken(id=token_id, name=body.name.strip(), token=plain), status=201, headers=NO_STORE)


@operation(
    "DELETE",
    "/api/v1/tokens/{id}",
    summary="Revoke an API token (your own; admins any)",
    tag="auth",
    status=204,
    params=(id_path_param("id", "the token's id"),),
    errors=(401, 403, 404),
)
@routes.delete("/api/v1/tokens/{id}")
async def delete_token(request: web.Request) -> web.Response:
    """Revoke a token; it stops working at once."""
    principal = await authenticate(request)
    await accounts.revoke_token(request.app[SERVICES], path_id(request), principal)
    return web.Response(status=204)


@operation(
    "GET",
    "/api/v1/users",
    summary="Staff users (supervisors and admins)",
    tag="users",
    response=UserList,
    params=PAGE_PARAMS,
    errors=(400, 401, 403),
)
@routes.get("/api/v1/users")
async def get_users(request: web.Request) -> web.Response:
    """Users in id order, a page at a time."""
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    limit, after = _page(request, "users")
    users = await list_users(services, after=after, limit=limit + 1)
    next_cursor = _next(request, "users", users, limit)
    return json_response(UserList(items=users[:limit], next=next_cursor))


@operation(
    "POST",
    "/api/v1/users",
    summary="Create a staff user (admins)",
    tag="users",
    request=NewUserBody,
    response=UserView,
    status=201,
    errors=(400, 401, 403, 409, 422),
)
@routes.post("/api/v1/users")
async def post_user(request: web.Request) -> web.Response:
    """Create a user with role, queues and skills; recorded in the audit log."""
    principal = await require_role(request, Role.ADMIN)
    body = await read_json(request, NewUserBody)
    services = request.app[SERVICES]
    user_id = await accounts.create_user(
        services,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        queues=body.queues,
        skills=body.skills,
        locale=body.locale,
        actor_id=principal.user_id,
    )
    return json_response(await get_user(services, user_id), status=201)


@operation(
    "GET",
    "/api/v1/audit",
    summary="The audit log, newest first (admins)",
    tag="users",
    response=AuditList,
    params=PAGE_PARAMS,
    errors=(400, 401, 403),
)
@routes.get("/api/v1/audit")
async def get_audit(request: web.Request) -> web.Response:
    """Audit entries newest first, a page at a time."""
    await require_role(request, Role.ADMIN)
    limit, before = _page(request, "audit")
    entries = await list_audit(request.app[SERVICES], before=before, limit=limit + 1)
    next_cursor = _next(request, "audit", entries, limit)
    return json_response(AuditList(items=entries[:limit], next=next_cursor))


def _page(request: web.Request, kind: str) -> tuple[int, int | None]:
    """(page size, the id the previous page ended at, if any)."""
    limit = query_int(request, "limit", minimum=1, maximum=MAX_PAGE) or DEFAULT_PAGE
    raw = query_text(request, "cursor", max_length=500, min_length=1)
    secret = request.app[SERVICES].settings.secret_key
    return limit, None if raw is None else cursor.id_only(secret, kind, raw)


def _next(request: web.Request, kind: str, found: Sequence[UserView | AuditView], limit: int) -> str | None:
    return cursor.next_by_id(request.app[SERVICES].settings.secret_key, kind, found, limit, lambda row: row.id)

