"""Canned responses: admins write them (audited), agents find the ones of their queues.

Every write is one transaction with its audit entry. A queue-scoped response is
visible to the queue's agents and to supervisors and admins; for anyone else its id
reads as 404, like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.canned.render import Format, check_source
from hub.db.models import CannedResponse, Queue, utcnow
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services import Services

LANGUAGES = ("de", "en")
CREATED = "canned_response.created"
UPDATED = "canned_response.updated"
DELETED = "canned_response.deleted"


@dataclass(frozen=True)
class CannedDraft:
    """What an admin sends: the response without its ids and times."""

    shortcut: str
    title: str
    format: Format
    bodies: Mapping[str, str]
    queue: str | None


def visible(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause limiting canned responses to those ``principal`` may use."""
    if principal.sees_everything:
        return true()
    return or_(CannedResponse.queue_id.is_(None), CannedResponse.queue_id.in_(sorted(principal.queue_ids)))


async def list_canned(
    services: Services, principal: Principal, *, q: str | None, queue_id: int | None, after: str | None, limit: int
) -> list[CannedResponse]:
    """Visible responses by shortcut; ``q`` finds text in the shortcut or the title."""
    query = select(CannedResponse).where(visible(principal)).order_by(CannedResponse.shortcut).limit(limit)
    if q:
        pattern = _like(q)
        query = query.where(
            or_(
                func.lower(CannedResponse.shortcut).like(pattern, escape="\\"),
                func.lower(CannedResponse.title).like(pattern, escape="\\"),
            )
        )
    if queue_id is not None:  # the responses usable in that queue: its own and the global ones
        query = query.where(or_(CannedResponse.queue_id.is_(None), CannedResponse.queue_id == queue_id))
    if after is not None:
        query = query.where(CannedResponse.shortcut > after)
    async with services.sessions() as session:
        return list((await session.scalars(query)).all())


async def get_canned(services: Services, principal: Principal, canned_id: int) -> CannedResponse:
    """One visible response, or 404."""
    async with services.sessions() as session:
        row = await session.scalar(select(CannedResponse).where(CannedResponse.id == canned_id, visible(principal)))
    if row is None:
        raise NotFound("no such canned response")
    return row


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _check(draft: CannedDraft) -> dict[str, str]:
    if not draft.title.strip():
        raise ValidationFailed("title: must not be blank")
    if not draft.bodies:
        raise ValidationFailed("bodies: give the text in at least one language (de, en)")
    bodies: dict[str, str] = {}
    for language, source in sorted(draft.bodies.items()):
        if language not in LANGUAGES:
            raise ValidationFailed(f"bodies: unknown language {language!r} (use {', '.join(LANGUAGES)})")
        if not source.strip():
            raise ValidationFailed(f"bodies.{language}: must not be blank")
        check_source(source, draft.format, f"bodies.{language}")
        bodies[language] = source
    return bodies


def _summary(row: CannedResponse, queue: str | None) -> dict[str, object]:
    return {"shortcut": row.shortcut, "format": row.format, "languages": sorted(row.bodies), "queue": queue}


async def _queue_id(session: AsyncSession, name: str | None) -> int | None:
    if name is None:
        return None
    queue_id = await session.scalar(select(Queue.id).where(Queue.name == name))
    if queue_id is None:
        raise ValidationFailed(f"queue: there is no queue named {name!r}")
    return queue_id


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins manage canned responses")


async def create_canned(services: Services, principal: Principal, draft: CannedDraft) -> int:
    """A new response (admins); 409 when the shortcut is taken."""
    _require_admin(principal)
    bodies = _check(draft)
    now = utcnow()
    try:
        async with services.transaction() as unit:
            session = unit.session
            queue_id = await _queue_id(session, draft.queue)
            if await session.scalar(select(CannedResponse.id).where(CannedResponse.shortcut == draft.shortcut)):
                raise Conflict(f"the shortcut {draft.shortcut!r} is taken")
            row = CannedResponse(
                shortcut=draft.shortcut, title=draft.title.strip(), format=draft.format, bodies=bodies, queue_id=queue_id,
                created_by=principal.user_id, updated_by=principal.user_id, created_at=now, updated_at=now,
            )
            session.add(row)
            await session.flush()
            await record_audit(session, actor_id=principal.user_id, action=CREATED, object_type="canned_response",
                               object_id=row.id, data=_summary(row, draft.queue))
            canned_id = row.id
    except IntegrityError as exc:  # a concurrent create with the same shortcut won
        raise Conflict(f"the shortcut {draft.shortcut!r} is taken") from exc
    return canned_id


async def update_canned(services: Services, principal: Principal, canned_id: int, draft: CannedDraft) -> None:
    """Replace a response (admins); 404 for no such response, 409 for a shortcut in use."""
    _require_admin(principal)
    bodies = _check(draft)
    try:
        async with services.transaction() as unit:
            session = unit.session
            row = await session.get(CannedResponse, canned_id, with_for_update=True)
            if row is None:
                raise NotFound("no such canned response")
            queue_id = await _queue_id(session, draft.queue)
            taken = await session.scalar(
                select(CannedResponse.id).where(CannedResponse.shortcut == draft.shortcut, CannedResponse.id != canned_id)
            )
            if taken:
                raise Conflict(f"the shortcut {draft.shortcut!r} is taken")
            row.shortcut, row.title, row.format, row.bodies, row.queue_id = (
                draft.shortcut, draft.title.strip(), draft.format, bodies, queue_id,
            )
            row.updated_by, row.updated_at = principal.user_id, utcnow()
            await record_audit(session, actor_id=principal.user_id, action=UPDATED, object_type="canned_response",
                               object_id=canned_id, data=_summary(row, draft.queue))
    except IntegrityError as exc:
        raise Conflict(f"the shortcut {draft.shortcut!r} is taken") from exc


async def delete_canned(services: Services, principal: Principal, canned_id: int) -> None:
    """Delete a response (admins); 404 when there is none."""
    _require_admin(principal)
    async with services.transaction() as unit:
        session = unit.session
        row = await session.get(CannedResponse, canned_id, with_for_update=True)
        if row is None:
            raise NotFound("no such canned response")
        await record_audit(session, actor_id=principal.user_id, action=DELETED, object_type="canned_response",
                           object_id=canned_id, data={"shortcut": row.shortcut})
        await session.delete(row)
