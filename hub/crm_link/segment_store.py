"""Saved segments: named, checked definitions that supervisors and admins maintain."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.crm_link.restriction import unrestricted
from hub.crm_link.segments import Definition, contact_filter, parse_definition
from hub.db.models import Contact, Segment, utcnow
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services import Services

SEGMENT_CHANGED = "segment.changed"  # audit action


def _check(principal: Principal) -> None:
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins define segments")


async def load_definition(session: AsyncSession, segment_id: int) -> Definition:
    """The definition of a saved segment; 404 when there is none."""
    raw = await session.scalar(select(Segment.definition).where(Segment.id == segment_id))
    if raw is None:
        raise NotFound("no such segment")
    return parse_definition(raw)


async def segments_of_contact(
    session: AsyncSession, names: Collection[str], contact_id: int, *, now: datetime
) -> frozenset[str]:
    """Which of the saved segments called ``names`` the contact is in, for automation (routing rules).

    A restricted contact (Art. 18) is in none of them: no automated processing. A name
    no segment has (deleted, renamed) matches nothing.
    """
    if not names:
        return frozenset()
    saved = (await session.execute(select(Segment.name, Segment.definition).where(Segment.name.in_(sorted(names))))).all()
    found = set()
    for name, raw in saved:
        member = contact_filter(parse_definition(raw), Contact.id.expression, now=now)
        hit = await session.scalar(
            select(Contact.id).where(Contact.id == contact_id, member, unrestricted(Contact.id.expression))
        )
        if hit is not None:
            found.add(name)
    return frozenset(found)


async def create_segment(
    services: Services, principal: Principal, name: str, description: str | None, definition: dict[str, Any]
) -> Segment:
    """Save a new segment; 422 for a bad definition, 409 for a name in use."""
    _check(principal)
    parse_definition(definition)
    if not name.strip():
        raise ValidationFailed("a segment needs a name")
    now = utcnow()
    try:
        async with services.transaction() as unit:
            segment = Segment(
                name=name.strip(), description=description, definition=definition, created_by=principal.user_id,
                created_at=now, updated_at=now,
            )
            unit.session.add(segment)
            await unit.session.flush()
            await record_audit(
                unit.session, actor_id=principal.user_id, action=SEGMENT_CHANGED, object_type="segment",
                object_id=segment.id, data={"created": True},
            )
    except IntegrityError:
        raise Conflict(f"a segment named {name.strip()!r} exists already") from None
    return segment


async def update_segment(
    services: Services, principal: Principal, segment_id: int, name: str, description: str | None,
    definition: dict[str, Any],
) -> Segment:
    """Replace a segment's name, description and definition."""
    _check(principal)
    parse_definition(definition)
    try:
        async with services.transaction() as unit:
            segment = await unit.session.get(Segment, segment_id, with_for_update=True)
            if segment is None:
                raise NotFound("no such segment")
            segment.name = name.strip()
            segment.description = description
            segment.definition = definition
            segment.updated_at = utcnow()
            await unit.session.flush()
            await record_audit(
                unit.session, actor_id=principal.user_id, action=SEGMENT_CHANGED, object_type="segment",
                object_id=segment.id, data={"updated": True},
            )
    except IntegrityError:
        raise Conflict(f"a segment named {name.strip()!r} exists already") from None
    return segment


async def delete_segment(services: Services, principal: Principal, segment_id: int) -> None:
    """Delete a segment (views and rules that named it match nothing afterwards: 404)."""
    _check(principal)
    async with services.transaction() as unit:
        segment = await unit.session.get(Segment, segment_id)
        if segment is None:
            raise NotFound("no such segment")
        await unit.session.delete(segment)
        await record_audit(
            unit.session, actor_id=principal.user_id, action=SEGMENT_CHANGED, object_type="segment",
            object_id=segment_id, data={"deleted": True},
        )
