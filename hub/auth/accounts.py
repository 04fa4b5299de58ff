"""Account actions: users, API tokens, browser logins. Each write is one transaction.

Login failures all read the same ("wrong email or password") and cost the same: an
unknown email, a user without a password and a deactivated user are each checked
against a hash, so neither the answer nor its timing says whether an account exists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.auth.audit import TOKEN_CREATED, TOKEN_REVOKED, USER_CREATED, record_audit
from hub.auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from hub.auth.principal import Principal, Role
from hub.auth.ratelimit import LoginRateLimit
from hub.auth.token_cache import TOKENS
from hub.auth.tokens import digest, new_session_id, new_token
from hub.db.models import ApiToken, Queue, QueueMember, User, UserSkill, WebSession, utcnow
from hub.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from hub.services import Services

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
BAD_CREDENTIALS = "wrong email or password"
MAX_SKILL_LEVEL = 100


@dataclass(frozen=True)
class LoginResult:
    """A new browser session: the cookie value, its CSRF token, whose it is, until when."""

    session_id: str
    csrf_token: str
    user_id: int
    expires_at: datetime


def normalize_email(email: str) -> str:
    """The stored form of a staff email (trimmed, lower-case), or ValidationFailed."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or "@" in domain or len(value) > 320 or not _printable(value):
        raise ValidationFailed("email: not a valid email address")
    return value


def _printable(value: str) -> bool:
    return all(c.isprintable() and not c.isspace() for c in value)


def _text(field: str, value: str, max_length: int) -> str:
    """``value`` trimmed; ValidationFailed when empty, too long or holding control characters."""
    value = value.strip()
    if not 1 <= len(value) <= max_length or not all(c.isprintable() for c in value):
        raise ValidationFailed(f"{field}: use 1 to {max_length} printable characters")
    return value


def check_password(password: str) -> None:
    """ValidationFailed unless ``password`` is acceptable as a new password."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationFailed(f"password: use {MIN_LENGTH} to {MAX_LENGTH} characters")


async def create_user(
    services: Services,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None,
    queues: list[str],
    skills: dict[str, int],
    actor_id: int | None,
    locale: str | None = None,
) -> int:
    """Create a staff user with queues and skills; returns the new user's id."""
    address = normalize_email(email)
    name = _text("name", name, 200)
    locale = None if locale is None else _text("locale", locale, 16)
    if role not in {r.value for r in Role}:
        raise ValidationFailed(f"role: must be one of {', '.join(r.value for r in Role)}")
    for skill, level in skills.items():
        if skill != _text("skills", skill, 100):
            raise ValidationFailed(f"skills: {skill!r} has surrounding spaces")
        if not 1 <= level <= MAX_SKILL_LEVEL:
            raise ValidationFailed(f"skills: level of {skill!r} must be 1 to {MAX_SKILL_LEVEL}")
    password_hash = None
    if password is not None:
        check_password(password)
        password_hash = await hash_password_async(password)
    wanted = sorted({_text("queues", q, 100) for q in queues})
    try:
        async with services.transaction() as unit:
            session = unit.session
            queue_ids = {name: qid for name, qid in await session.execute(select(Queue.name, Queue.id).where(Queue.name.in_(wanted)))}
            unknown = [q for q in wanted if q not in queue_ids]
            if unknown:
                raise ValidationFailed(f"queues: unknown queue(s) {', '.join(unknown)}")
            if await session.scalar(select(User.id).where(User.email == address)) is not None:
                raise Conflict("a user with this email already exists")
            user = User(email=address, name=name, role=role, password_hash=password_hash, locale=locale, active=True)
            session.add(user)
            await session.flush()
            session.add_all(QueueMember(user_id=user.id, queue_id=queue_ids[q]) for q in wanted)
            session.add_all(UserSkill(user_id=user.id, skill=s, level=lv) for s, lv in sorted(skills.items()))
            await record_audit(
                session,
                actor_id=actor_id,
                action=USER_CREATED,
                object_type="user",
                object_id=user.id,
                data={"role": role, "queues": wanted, "skills": dict(sorted(skills.items()))},
            )
            user_id = user.id
    except IntegrityError as exc:  # a concurrent create with the same email won the race
        raise Conflict("a user with this email already exists") from exc
    log.info("user created", extra={"user_id": user_id, "actor_id": actor_id})
    return user_id


async def set_password(services: Services, *, user_id: int, password: str, actor_id: int | None) -> None:
    """Set a user's password and end their browser sessions."""
    check_password(password)
    new_hash = await hash_password_async(password)
    async with services.transaction() as unit:
        changed = await unit.session.execute(update(User).where(User.id == user_id).values(password_hash=new_hash))
        if not changed.rowcount:  # type: ignore[attr-defined]
            raise NotFound("no such user")
        await unit.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        await record_audit(unit.session, actor_id=actor_id, action="user.password_set", object_type="user", object_id=user_id)


async def user_id_by_email(services: Services, email: str) -> int:
    """The id of the user with ``email``, or NotFound."""
    async with services.sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email.strip().lower()))
    if user_id is None:
        raise NotFound("no user with this email")
    return user_id


async def create_token(services: Services, *, user_id: int, name: str, actor_id: int | None) -> tuple[int, str]:
    """A new API token for an active user: (token id, the token itself, shown only now)."""
    name = _text("name", name, 100)
    plain = new_token()
    async with services.transaction() as unit:
        session = unit.session
        active = await session.scalar(select(User.active).where(User.id == user_id))
        if not active:
            raise NotFound("no such active user")
        token = ApiToken(user_id=user_id, token_hash=digest(plain), name=name, created_at=utcnow())
        session.add(token)
        await session.flush()
        await record_audit(
            session,
            actor_id=actor_id,
            action=TOKEN_CREATED,
            object_type="api_token",
            object_id=token.id,
            data={"user_id": user_id, "name": name},
        )
        token_id = token.id
    return token_id, plain


async def revoke_token(services: Services, token_id: int, principal: Principal) -> None:
    """Revoke a token: one's own, or any as admin. Someone else's token reads as 404."""
    async with services.transaction() as unit:
        session = unit.session
        token = await session.get(ApiToken, token_id, with_for_update=True)
        if token is None or (token.user_id != principal.user_id and not principal.is_admin):
            raise NotFound("no such token")
        if token.revoked_at is not None:
            return
        token.revoked_at = utcnow()
        await record_audit(
            session,
            actor_id=principal.user_id,
            action=TOKEN_REVOKED,
            object_type="api_token",
            object_id=token_id,
            data={"user_id": token.user_id, "name": token.name},
        )
    TOKENS.invalidate()  # after commit: the next request reads the revocation


async def touch_token(services: Services, token_id: int, now: datetime) -> None:
    """Record that a token was used; a no-op when that was recorded within the last minute."""
    async with services.transaction() as unit:
        await unit.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_TOUCH_INTERVAL),
            )
            .values(last_used_at=now)
        )


async def login(
    services: Services,
    email: str,
    password: str,
    remote: str | None,
    *,
    limit: LoginRateLimit,
    replaces: str | None = None,
) -> LoginResult:
    """Check the credentials and open a browser session (ending the session ``replaces``).

    Unauthorized for any bad credential, TooManyRequests when over the rate limit.
    """
    address = email.strip().lower()
    await limit.attempt(address, remote)
    user = None
    if _printable(address):  # nothing else can be stored (PostgreSQL refuses NUL outright)
        async with services.sessions() as session:
            user = await session.scalar(select(User).where(User.email == address))
    stored = user.password_hash if user is not None else None
    matched = await verify_password_async(stored, password)
    if user is None or stored is None or not matched or not user.active:
        log.info("login failed", extra={"user_id": user.id if user is not None else None})
        raise Unauthorized(BAD_CREDENTIALS)
    new_hash = await hash_password_async(password) if needs_rehash(stored) else None
    now = utcnow()
    result = LoginResult(new_session_id(), secrets.token_urlsafe(32), user.id, now + SESSION_LIFETIME)
    async with services.transaction() as unit:
        session = unit.session
        if new_hash is not None:  # only if nobody changed the password meanwhile
            await session.execute(
                update(User).where(User.id == user.id, User.password_hash == stored).values(password_hash=new_hash)
            )
        await session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= now))
        if replaces:  # whoever it belonged to: the browser that held it now holds the new one
            await session.execute(delete(WebSession).where(WebSession.id_hash == digest(replaces)))
        session.add(
            WebSession(
                id_hash=digest(result.session_id),
                user_id=user.id,
                csrf_token=result.csrf_token,
                created_at=now,
                expires_at=result.expires_at,
            )
        )
    await limit.succeeded(address, remote)
    log.info("login", extra={"user_id": user.id, "rehashed": new_hash is not None})
    return result


async def logout(services: Services, session_id: str) -> None:
    """End the browser session with this cookie value (no error if it is already gone)."""
    async with services.transaction() as unit:
        await unit.session.execute(delete(WebSession).where(WebSession.id_hash == digest(session_id)))
