"""Authenticate API requests: bearer tokens for integrations, session cookies for the UI.

``authenticate(request)`` returns the ``Principal`` or raises 401. Requests that
authenticate with the session cookie and change state must carry the session's CSRF
token in ``X-CSRF-Token``; bearer-token requests need none (a browser never attaches
a bearer token on its own).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.keys import SERVICES
from hub.auth.accounts import TOKEN_TOUCH_INTERVAL, touch_token
from hub.auth.principal import Principal, Role
from hub.auth.token_cache import TOKENS, CachedToken
from hub.auth.tokens import digest
from hub.db.models import ApiToken, QueueMember, User, WebSession, utcnow
from hub.errors import Forbidden, Unauthorized

SESSION_COOKIE = "hub_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL_KEY = web.RequestKey("hub.principal", Principal)


async def authenticate(request: web.Request, *, fresh: bool = False) -> Principal:
    """The caller of ``request`` (cached on the request), or 401.

    A bearer token's look-up is remembered for a few seconds (``hub.auth.token_cache``);
    ``fresh`` reads the database regardless (a long-lived websocket re-checking its login).
    """
    if PRINCIPAL_KEY in request and not fresh:
        return request[PRINCIPAL_KEY]
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        principal = await _from_token(request, token.strip(), fresh=fresh)
    elif SESSION_COOKIE in request.cookies:
        principal = await _from_session(request, request.cookies[SESSION_COOKIE])
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
    else:
        raise Unauthorized("authentication required")
    request[PRINCIPAL_KEY] = principal
    return principal


async def require_role(request: web.Request, *roles: Role) -> Principal:
    """The caller, or 403 unless they hold one of ``roles``."""
    principal = await authenticate(request)
    if principal.role not in roles:
        raise Forbidden("your role may not do this")
    return principal


async def _from_token(request: web.Request, token: str, *, fresh: bool = False) -> Principal:
    services = request.app[SERVICES]
    now = utcnow()
    token_digest = digest(token)

    async def load() -> CachedToken:
        async with services.sessions() as session:
            row = (
                await session.execute(
                    select(User, ApiToken.id, ApiToken.last_used_at)
                    .join(ApiToken, ApiToken.user_id == User.id)
                    .where(ApiToken.token_hash == token_digest, ApiToken.revoked_at.is_(None), User.active.is_(True))
                )
            ).first()
            if row is None:
                raise Unauthorized("unknown or revoked token")
            user, token_id, last_used_at = row
            queue_ids = await _queue_ids(session, user.id)
        return CachedToken(_principal(user, queue_ids, via="token"), token_id, last_used_at)

    found = await load() if fresh else await TOKENS.lookup(token_digest, load)
    if found.last_used_at is None or now - found.last_used_at >= TOKEN_TOUCH_INTERVAL:
        await touch_token(services, found.token_id, now)
        TOKENS.touched(token_digest, now)
    return found.principal


async def _from_session(request: web.Request, session_id: str) -> Principal:
    services = request.app[SERVICES]
    now = utcnow()
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(User, WebSession.csrf_token)
                .join(WebSession, WebSession.user_id == User.id)
                .where(WebSession.id_hash == digest(session_id), WebSession.expires_at > now, User.active.is_(True))
            )
        ).first()
        if row is None:
            raise Unauthorized("session expired; log in again")
        user, csrf = row
        queue_ids = await _queue_ids(session, user.id)
    return _principal(user, queue_ids, via="session", csrf_token=csrf)


async def _queue_ids(session: AsyncSession, user_id: int) -> frozenset[int]:
    return frozenset((await session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user_id))).all())


def _principal(user: User, queue_ids: frozenset[int], *, via: str, csrf_token: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        queue_ids=queue_ids,
        via=via,
        csrf_token=csrf_token,
    )

