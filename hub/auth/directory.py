"""Read models of staff accounts and their tokens (never a secret or a hash)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ApiToken, Queue, QueueMember, User, UserSkill
from hub.errors import NotFound
from hub.services import Services


class UserView(msgspec.Struct, kw_only=True):
    """A staff user as the API shows them."""

    id: int
    email: str
    name: str
    role: str
    queues: list[str]
    skills: dict[str, int]
    locale: str | None
    active: bool
    created_at: datetime


class TokenView(msgspec.Struct, kw_only=True):
    """An API token's metadata; the token itself is shown once, at creation."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def get_user(services: Services, user_id: int) -> UserView:
    """One user, or NotFound."""
    async with services.sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        return (await _views(session, [user]))[0]


async def list_users(services: Services, *, after: int | None, limit: int) -> list[UserView]:
    """Users in id order, starting after the id ``after``."""
    query = select(User).order_by(User.id).limit(limit)
    if after is not None:
        query = query.where(User.id > after)
    async with services.sessions() as session:
        users = (await session.scalars(query)).all()
        return await _views(session, users)


async def list_tokens(services: Services, user_id: int) -> list[TokenView]:
    """A user's tokens, newest first, revoked ones included."""
    async with services.sessions() as session:
        rows = (
            await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
        ).all()
    return [
        TokenView(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at, revoked_at=t.revoked_at)
        for t in rows
    ]


async def _views(session: AsyncSession, users: Sequence[User]) -> list[UserView]:
    ids = [u.id for u in users]
    queues: dict[int, list[str]] = defaultdict(list)
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    if ids:
        for user_id, queue in await session.execute(
            select(QueueMember.user_id, Queue.name)
            .join(Queue, Queue.id == QueueMember.queue_id)
            .where(QueueMember.user_id.in_(ids))
            .order_by(Queue.name)
        ):
            queues[user_id].append(queue)
        for user_id, skill, level in await session.execute(
            select(UserSkill.user_id, UserSkill.skill, UserSkill.level)
            .where(UserSkill.user_id.in_(ids))
            .order_by(UserSkill.skill)
        ):
            skills[user_id][skill] = level
    return [
        UserView(
            id=u.id,
            email=u.email,
            name=u.name,
            role=u.role,
            queues=queues[u.id],
            skills=skills[u.id],
            locale=u.locale,
            active=u.active,
            created_at=u.created_at,
        )
        for u in users
    ]
