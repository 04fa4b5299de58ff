"""Erasure (DSGVO Art. 17): the contact's personal data goes, anonymous statistics stay.

Driven by the registry (``hub.db.personal_data`` through ``record_map``): every table
of the record is scrubbed (personal columns blanked, the row kept so counts,
durations and SLA results stay right), deleted, or kept as it is; blobs no attachment
refers to any more are deleted; ``SWEPT`` columns (stored API answers) lose the rows
that repeat the contact's data; ``REDIS_KEYS`` are deleted. Queued replies are
cancelled and open conversations resolved. The audit log gets a certificate (counts
per table, no personal data) and the timeline an ``erased`` entry.

On SQLite the connection pragma ``secure_delete`` zeroes freed space, the full-text
index is merged so no word of the erased texts stays in it, and the WAL is
checkpointed and truncated afterwards, so the database file holds no copy of the
erased values (docs/privacy.md). A second pass right after the first catches a
message that an ingest batch, blocked by the erasure, committed just after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.crm_link.blob_cleanup import (
    Selector,
    blob_candidates,
    delete_unreferenced,
    still_referenced,
)
from hub.crm_link.merge import merge_group
from hub.crm_link.record_map import TablePlan, column_of, default_plans
from hub.crm_link.restriction import ensure_privacy_officer
from hub.crm_link.timeline import append_timeline
from hub.db.fulltext import purge_deleted
from hub.db.models import Base, Contact, Conversation, Message, OutboxItem, utcnow
from hub.db.personal_data import REDIS_KEYS, SWEPT
from hub.errors import Conflict, NotFound
from hub.events import Event
from hub.services import Services, Unit

log = logging.getLogger(__name__)

CONTACT_ERASED = "contact.erased"  # audit action
CANCELLED = "cancelled: the contact's personal data was erased"  # until the scrub blanks it
MIN_NEEDLE = 4  # shorter strings would sweep unrelated rows
SWEEP_CHUNK = 500


@dataclass
class ErasureReport:
    """What an erasure did (or, as a preview, would do): row counts, never values."""

    contact_id: int
    contact_ids: list[int]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: int = 0
    swept: dict[str, int] = field(default_factory=dict)
    redis_keys: int = 0
    cancelled_replies: int = 0
    resolved_conversations: int = 0
    audit_id: int | None = None
    erased_at: datetime | None = None
    database_compacted: bool | None = None

    def certificate(self) -> dict[str, Any]:
        """The audit entry's data."""
        return {
            "contact_ids": self.contact_ids,
            "tables": self.tables,
            "blobs": self.blobs,
            "swept": self.swept,
            "cancelled_replies": self.cancelled_replies,
            "resolved_conversations": self.resolved_conversations,
        }


async def _load(session: AsyncSession, contact_id: int, *, lock: bool) -> Contact:
    stmt = select(Contact).where(Contact.id == contact_id)
    contact = await session.scalar(stmt.with_for_update() if lock else stmt)
    if contact is None:
        raise NotFound("no such contact")
    return contact


async def preview_erasure(
    services: Services, principal: Principal, contact_id: int, *, plans: Sequence[TablePlan] | None = None
) -> ErasureReport:
    """What erasing the contact would remove: the same queries as the erasure, counted."""
    ensure_privacy_officer(principal)
    plans = default_plans() if plans is None else plans
    async with services.sessions() as session:
        contact = await _load(session, contact_id, lock=False)
        ids = await merge_group(session, contact.id)
        report = ErasureReport(contact_id=contact_id, contact_ids=ids)
        for plan in plans:
            if plan.rule == "keep":
                continue
            count = await session.scalar(select(func.count()).select_from(plan.table).where(plan.belongs_to(ids)))
            report.tables[plan.name] = _table_entry(plan, int(count or 0))
        report.blobs = await _count_orphans(session, plans, ids)
        report.cancelled_replies = int(
            await session.scalar(select(func.count()).select_from(OutboxItem).where(_pending_replies(ids))) or 0
        )
        report.resolved_conversations = int(
            await session.scalar(select(func.count()).select_from(Conversation).where(_open_conversations(ids))) or 0
        )
        if SWEPT:
            needles = await _needles(session, plans, ids)
            for key in SWEPT:
                report.swept[key] = len(await _swept_rows(session, key, needles))
    return report


async def erase_contact(
    services: Services,
    principal: Principal,
    contact_id: int,
    *,
    plans: Sequence[TablePlan] | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase the contact's personal data (admins only); 409 when erased already or restricted."""
    ensure_privacy_officer(principal)
    plans = default_plans() if plans is None else plans
    now = now or utcnow()
    doomed_blobs: list[str] = []
    async with services.transaction() as unit:
        session = unit.session
        contact = await _load(session, contact_id, lock=True)
        if contact.erased_at is not None:
            raise Conflict("the contact's personal data was erased already")
        if contact.restricted_at is not None:
            raise Conflict("processing of this contact is restricted (Art. 18); lift the restriction to erase")
        if contact.merged_into_id is not None:
            raise Conflict(
                f"this contact was merged into contact {contact.merged_into_id}, which holds its data now: "
                "erase that one (or undo the merge first)"
            )
        ids = await merge_group(session, contact.id)
        report = ErasureReport(contact_id=contact_id, contact_ids=ids, erased_at=now)
        needles = await _needles(session, plans, ids) if SWEPT else []
        report.cancelled_replies = await _cancel_replies(session, ids, now)
        report.resolved_conversations = await _resolve_open(unit, principal, ids, now)
        candidates = await blob_candidates(session, plans, _going(ids))
        report.tables = await _erase_rows(session, plans, ids)
        doomed_blobs = await delete_unreferenced(session, plans, candidates)
        report.blobs = len(doomed_blobs)
        for key in SWEPT:
            report.swept[key] = await _sweep(session, key, needles)
        await session.execute(
            update(Contact).where(Contact.id.in_(ids)).values(erased_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit = await record_audit(
            session, actor_id=principal.user_id, action=CONTACT_ERASED, object_type="contact", object_id=contact_id,
            data=report.certificate(),
        )
        report.audit_id = audit.id
        await append_timeline(
            session, contact_id, "erased", actor_user_id=principal.user_id, occurred_at=now, data={"audit_id": audit.id}
        )
        unit.emit(Event(ev.CONTACT_ERASED, contact_id=contact_id, user_id=principal.user_id, occurred_at=now))
    # A batch that read an identity before it was deleted commits right after us: catch its rows.
    async with services.transaction() as unit:
        await _erase_rows(unit.session, plans, ids)
    async with services.sessions() as session, session.begin():
        await purge_deleted(session)  # the search index keeps a deleted text's words until its segments merge
    for digest in doomed_blobs:
        await services.blobs.delete(digest)
    report.redis_keys = await _delete_redis_keys(services, ids)
    report.database_compacted = await compact_sqlite(services)
    log.info("contact %d erased (audit %d)", contact_id, report.audit_id)
    return report


def _table_entry(plan: TablePlan, rows: int) -> dict[str, Any]:
    return {"rows": rows, "action": plan.rule, "columns": [c.name for c in plan.personal] if plan.rule == "scrub" else []}


async def _erase_rows(session: AsyncSession, plans: Sequence[TablePlan], ids: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Scrub or delete every table's rows of the contact, deepest paths first."""
    done: dict[str, dict[str, Any]] = {}
    for plan in plans:
        if plan.rule == "delete":
            statement: Any = delete(plan.table).where(plan.belongs_to(ids))
        elif plan.rule == "scrub" and plan.personal:
            statement = update(plan.table).where(plan.belongs_to(ids)).values(**plan.scrubbed())
        else:
            continue
        result = cast(CursorResult[Any], await session.execute(statement.execution_options(synchronize_session=False)))
        done[plan.name] = _table_entry(plan, max(result.rowcount, 0))
    return done


def _pending_replies(ids: Sequence[int]) -> Any:
    in_record = OutboxItem.message_id.in_(
        select(Message.id).join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.contact_id.in_(list(ids))
        )
    )
    return (OutboxItem.state == "pending") & in_record


def _open_conversations(ids: Sequence[int]) -> Any:
    return Conversation.contact_id.in_(list(ids)) & (Conversation.status != "resolved")


async def _cancel_replies(session: AsyncSession, ids: Sequence[int], now: datetime) -> int:
    message_ids = list((await session.scalars(select(OutboxItem.message_id).where(_pending_replies(ids)))).all())
    if not message_ids:
        return 0
    await session.execute(
        update(OutboxItem).where(OutboxItem.message_id.in_(message_ids))
        .values(state="dead", last_error=CANCELLED, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Message).where(Message.id.in_(message_ids), Message.status.in_(("queued", "sending")))
        .values(status="failed", error=CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return len(message_ids)


async def _resolve_open(unit: Unit, principal: Principal, ids: Sequence[int], now: datetime) -> int:
    from hub.inbox.actions import conversation_event  # the inbox imports this package; import late

    conversations = list((await unit.session.scalars(select(Conversation).where(_open_conversations(ids)))).all())
    for conversation in conversations:
        previous = conversation.status
        conversation.status = "resolved"
        conversation.resolved_at = now
        conversation.snoozed_until = None
        conversation.updated_at = now
        unit.emit(
            conversation_event(
                ev.CONVERSATION_STATUS_CHANGED, conversation,
                {"previous": previous, "status": "resolved", "snoozed_until": None, "by_user_id": principal.user_id},
                now,
            )
        )
    await unit.session.flush()
    return len(conversations)


def _going(ids: Sequence[int]) -> Selector:
    """The rows erasure deletes: those of ``delete`` tables that reach the contacts."""
    return lambda plan: plan.belongs_to(ids) if plan.rule == "delete" else None


async def _count_orphans(session: AsyncSession, plans: Sequence[TablePlan], ids: Sequence[int]) -> int:
    candidates = await blob_candidates(session, plans, _going(ids))
    return len(set(candidates) - await still_referenced(session, plans, candidates, besides=_going(ids)))


async def _needles(session: AsyncSession, plans: Sequence[TablePlan], ids: Sequence[int]) -> list[str]:
    """Every personal string of the record (and its JSON-escaped form), to find echoes of it."""
    found: set[str] = set()
    for plan in plans:
        columns = plan.text_columns()
        if not columns:
            continue
        for row in await session.execute(select(*columns).where(plan.belongs_to(ids))):
            for value in row:
                _collect_strings(value, found)
    needles = {n for n in found if len(n) >= MIN_NEEDLE}
    needles |= {msgspec.json.encode(n).decode()[1:-1] for n in needles}
    return sorted(needles, key=len, reverse=True)


def _collect_strings(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        into.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, into)


async def _swept_rows(session: AsyncSession, key: str, needles: Sequence[str]) -> list[Any]:
    if not needles:
        return []
    column = column_of(key, Base.metadata.tables)
    table = column.table
    (primary,) = table.primary_key.columns
    hits: list[Any] = []
    last: Any = None
    while True:
        stmt = select(primary, column).order_by(primary).limit(SWEEP_CHUNK)
        if last is not None:
            stmt = stmt.where(primary > last)
        rows = (await session.execute(stmt)).all()
        if not rows:
            return hits
        for row_id, value in rows:
            if isinstance(value, str) and any(n in value for n in needles):
                hits.append(row_id)
        last = rows[-1][0]


async def _sweep(session: AsyncSession, key: str, needles: Sequence[str]) -> int:
    hits = await _swept_rows(session, key, needles)
    if hits:
        column = column_of(key, Base.metadata.tables)
        (primary,) = column.table.primary_key.columns
        await session.execute(delete(column.table).where(primary.in_(hits)).execution_options(synchronize_session=False))
    return len(hits)


async def _delete_redis_keys(services: Services, ids: Sequence[int]) -> int:
    if not REDIS_KEYS or not services.settings.redis_url:
        return 0
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(services.settings.redis_url)
    deleted = 0
    try:
        for pattern in REDIS_KEYS:
            for contact_id in ids:
                keys = [k async for k in client.scan_iter(match=pattern.format(contact_id=contact_id), count=500)]
                if keys:
                    deleted += int(await client.delete(*keys))
    finally:
        await client.aclose()
    return deleted


async def compact_sqlite(services: Services, *, attempts: int = 50) -> bool | None:
    """Checkpoint SQLite's WAL into the database file and truncate it (None on PostgreSQL).

    ``secure_delete`` already zeroed the freed space in the pages; the WAL still holds
    earlier page images until it is reset. True when the WAL is empty now; False when
    readers kept it busy for all ``attempts`` (the next checkpoint will reset it).
    """
    if services.dialect != "sqlite":
        return None
    async with services.engine.connect() as conn:
        raw = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(attempts):
            busy, _log, _done = (await raw.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()
            if not busy:
                return True
            await asyncio.sleep(0.05)
    return False
