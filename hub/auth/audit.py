"""The audit log: who changed accounts or configuration, written in the change's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import AuditEntry, utcnow
from hub.services import Services

# Keys whose values are credentials; an audit entry must never carry one.
_SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_hash", "secret", "csrf_token"})

USER_CREATED = "user.created"
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"


async def record_audit(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str | None,
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (ids and names only, never secrets).

    ``actor_id`` is None for the system or the command line.
    """
    payload = dict(data or {})
    leaked = _SECRET_KEYS.intersection(payload)
    if leaked:
        raise ValueError(f"audit data must not carry credentials: {sorted(leaked)}")
    entry = AuditEntry(
        at=utcnow(),
        actor_user_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        data=payload,
    )
    session.add(entry)
    await session.flush()
    return entry


class AuditView(msgspec.Struct, kw_only=True):
    """An audit entry as the API shows it."""

    id: int
    at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_id: str | None
    data: dict[str, Any]


async def list_audit(services: Services, *, before: int | None, limit: int) -> list[AuditView]:
    """Audit entries newest first, starting below the id ``before``."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    async with services.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [
        AuditView(
            id=e.id,
            at=e.at,
            actor_id=e.actor_user_id,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            data=e.data,
        )
        for e in rows
    ]
