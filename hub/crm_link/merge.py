"""Merge two contacts into one, and undo it: nothing is deleted, so unmerge restores both.

Merging B into A (A survives):

- B's rows of every one-hop record table move to A (identities, conversations and with
  them their messages, timeline, consents, notes, and any table another area declares
  in ``hub.db.personal_data``); their ids are recorded in the merge. ``copy`` tables
  (tags) give A what it lacks. A's empty fields (name, company, stage, owner) and
  missing attributes are filled from B, with the old values recorded.
- B stays as it was, hidden behind ``merged_into_id = A``.
- Both get a timeline entry and an audit entry; ``contact.merged`` is published.

Unmerge moves the recorded rows back, plus what arrived since on B's conversations
(new messages' timeline entries) and conversations opened since from B's identities;
removes the copies; reverts A's filled fields where they still hold B's values; and
shows B again. The merge row keeps its history (``unmerged_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.auth.audit import record_audit
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.crm_link.record_map import TablePlan, default_plans
from hub.crm_link.timeline import append_timeline
from hub.db.models import Contact, ContactMerge, Conversation, TimelineEntry, utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event
from hub.services import Services, Unit

FILLABLE = ("name", "company_id", "lifecycle_stage", "owner_id")
CONTACT_MERGED = "contact.merged"  # audit actions
CONTACT_MERGED_AWAY = "contact.merged_away"
CONTACT_UNMERGED = "contact.unmerged"


def _pk(plan: TablePlan) -> Any:
    (column,) = plan.table.primary_key.columns
    return column


def _movable(plans: Sequence[TablePlan]) -> list[tuple[TablePlan, Any]]:
    """(plan, contact column) of the tables a merge moves or copies."""
    found = []
    for plan in plans:
        column = plan.contact_column()
        if column is not None and plan.merge != "stay":
            found.append((plan, column))
    return found


async def _lock_pair(session: AsyncSession, principal: Principal | None, a: int, b: int) -> tuple[Contact, Contact]:
    stmt = select(Contact).where(Contact.id.in_((a, b))).order_by(Contact.id).with_for_update()
    if principal is not None:
        stmt = stmt.where(contact_scope(principal, Contact.id.expression))
    rows = {c.id: c for c in (await session.scalars(stmt)).all()}
    if a not in rows or b not in rows:
        raise NotFound("no such contact")
    return rows[a], rows[b]


def _check_mergeable(contact: Contact) -> None:
    if contact.erased_at is not None:
        raise Conflict(f"contact {contact.id} was erased")
    if contact.merged_into_id is not None:
        raise Conflict(f"contact {contact.id} was merged into contact {contact.merged_into_id} already")
    if contact.restricted_at is not None:
        raise Conflict(f"processing of contact {contact.id} is restricted (Art. 18); it cannot be merged")


async def merge_contacts(
    services: Services,
    principal: Principal,
    survivor_id: int,
    other_id: int,
    *,
    plans: Sequence[TablePlan] | None = None,
    now: datetime | None = None,
) -> ContactMerge:
    """Merge ``other_id`` into ``survivor_id`` (both must be visible to ``principal``); returns the merge."""
    if survivor_id == other_id:
        raise ValidationFailed("a contact cannot be merged with itself")
    plans = default_plans() if plans is None else plans
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        survivor, other = await _lock_pair(session, principal, survivor_id, other_id)
        _check_mergeable(survivor)
        _check_mergeable(other)
        moved: dict[str, list[Any]] = {}
        copied: dict[str, list[list[Any]]] = {}
        for plan, column in _movable(plans):
            if plan.merge == "move":
                key = _pk(plan)
                ids = list((await session.scalars(select(key).where(column == other.id).order_by(key))).all())
                if ids:
                    await session.execute(
                        update(plan.table).where(key.in_(ids)).values({column.name: survivor.id})
                        .execution_options(synchronize_session=False)
                    )
                    moved[plan.name] = ids
            else:
                copied_rows = await _copy_rows(session, plan, column, other.id, survivor.id)
                if copied_rows:
                    copied[plan.name] = copied_rows
        before = _fill(survivor, other)
        survivor.updated_at = now
        merge = ContactMerge(
            survivor_id=survivor.id,
            merged_id=other.id,
            moved={"rows": moved, "copied": copied},
            survivor_before=before,
            merged_at=now,
            merged_by=principal.user_id,
        )
        session.add(merge)
        other.merged_into_id = survivor.id
        other.updated_at = now
        await session.flush()
        await _record(unit, principal, merge, now, undo=False)
    return merge


async def _copy_rows(session: AsyncSession, plan: TablePlan, column: Any, source: int, target: int) -> list[list[Any]]:
    """Copy ``source``'s rows to ``target`` where ``target`` has no such row; their keys, as copied."""
    keys = list(plan.table.primary_key.columns)
    others = [c for c in plan.table.columns if c is not column]
    existing = {
        tuple(row) for row in await session.execute(select(*others).where(column == target))
    }
    rows = [
        dict(zip([c.name for c in others], row, strict=True))
        for row in await session.execute(select(*others).where(column == source))
        if tuple(row) not in existing
    ]
    if not rows:
        return []
    await session.execute(insert(plan.table), [{**row, column.name: target} for row in rows])
    return [[target if k is column else row[k.name] for k in keys] for row in rows]


def _fill(survivor: Contact, other: Contact) -> dict[str, Any]:
    """Fill the survivor's empty fields and missing attributes from ``other``; what they were."""
    fields: dict[str, Any] = {}
    for name in FILLABLE:
        if getattr(survivor, name) is None and getattr(other, name) is not None:
            fields[name] = None
            setattr(survivor, name, getattr(other, name))
    attributes = dict(survivor.attributes or {})
    added = {k: v for k, v in (other.attributes or {}).items() if k not in attributes}
    if added:
        survivor.attributes = {**attributes, **added}
    return {"fields": fields, "attributes_added": added}


async def unmerge(
    services: Services,
    principal: Principal,
    merge_id: int,
    *,
    plans: Sequence[TablePlan] | None = None,
    now: datetime | None = None,
) -> ContactMerge:
    """Undo the merge: both contacts are as they were, with what arrived since on B's side."""
    plans = default_plans() if plans is None else plans
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        merge = await session.scalar(select(ContactMerge).where(ContactMerge.id == merge_id).with_for_update())
        if merge is None:
            raise NotFound("no such merge")
        survivor, other = await _lock_pair(session, principal, merge.survivor_id, merge.merged_id)
        if merge.unmerged_at is not None:
            raise Conflict("this merge was undone already")
        if survivor.merged_into_id is not None:
            raise Conflict(
                f"contact {survivor.id} was merged into contact {survivor.merged_into_id} since; undo that merge first"
            )
        if survivor.erased_at is not None or other.erased_at is not None:
            raise Conflict("a contact of this merge was erased")
        rows: dict[str, list[Any]] = merge.moved.get("rows", {})
        by_name = {plan.name: (plan, column) for plan, column in _movable(plans)}
        back_conversations = await _conversations_back(session, merge, rows)
        for name, ids in rows.items():
            if name not in by_name:
                continue
            plan, column = by_name[name]
            key = _pk(plan)
            condition: ColumnElement[bool] = key.in_(ids)
            if name == "conversations":
                condition = key.in_(back_conversations)
            elif name == "timeline_entries" and back_conversations:
                condition = or_(condition, TimelineEntry.conversation_id.in_(back_conversations))
            await session.execute(
                update(plan.table).where(condition, column == survivor.id).values({column.name: other.id})
                .execution_options(synchronize_session=False)
            )
        for name, keys in merge.moved.get("copied", {}).items():
            if name in by_name:
                plan, _column = by_name[name]
                columns = list(plan.table.primary_key.columns)
                await session.execute(
                    delete(plan.table).where(
                        or_(*(and_(*(c == v for c, v in zip(columns, key, strict=True))) for key in keys))
                    ).execution_options(synchronize_session=False)
                )
        _revert(survivor, other, merge.survivor_before)
        survivor.updated_at = now
        other.merged_into_id = None
        other.updated_at = now
        merge.unmerged_at = now
        merge.unmerged_by = principal.user_id
        await session.flush()
        await _record(unit, principal, merge, now, undo=True)
    return merge


async def _conversations_back(session: AsyncSession, merge: ContactMerge, rows: dict[str, list[Any]]) -> list[int]:
    """The merged contact's conversations, and those opened since from its identities."""
    moved = list(rows.get("conversations", []))
    identities = rows.get("contact_identities", [])
    if identities:
        moved += (
            await session.scalars(
                select(Conversation.id).where(
                    Conversation.contact_id == merge.survivor_id,
                    Conversation.identity_id.in_(identities),
                    Conversation.created_at >= merge.merged_at,
                )
            )
        ).all()
    return sorted(set(moved))


def _revert(survivor: Contact, other: Contact, before: dict[str, Any]) -> None:
    for name, old in before.get("fields", {}).items():
        if getattr(survivor, name) == getattr(other, name):
            setattr(survivor, name, old)
    added: dict[str, Any] = before.get("attributes_added", {})
    if added:
        survivor.attributes = {
            k: v for k, v in (survivor.attributes or {}).items() if not (k in added and added[k] == v)
        }


async def _record(unit: Unit, principal: Principal, merge: ContactMerge, now: datetime, *, undo: bool) -> None:
    session = unit.session
    pairs = ((merge.survivor_id, merge.merged_id), (merge.merged_id, merge.survivor_id))
    for index, (contact_id, other_id) in enumerate(pairs):
        kind = "unmerged" if undo else ("merged" if index == 0 else "merged_away")
        await append_timeline(
            session, contact_id, kind, actor_user_id=principal.user_id, occurred_at=now,
            data={"merge_id": merge.id, "other_contact_id": other_id},
        )
        action = CONTACT_UNMERGED if undo else (CONTACT_MERGED if index == 0 else CONTACT_MERGED_AWAY)
        await record_audit(
            session, actor_id=principal.user_id, action=action, object_type="contact", object_id=contact_id,
            data={"merge_id": merge.id, "other_contact_id": other_id},
        )
    unit.emit(
        Event(
            ev.CONTACT_UNMERGED if undo else ev.CONTACT_MERGED,
            contact_id=merge.survivor_id,
            user_id=principal.user_id,
            data={"merge_id": merge.id, "survivor_id": merge.survivor_id, "merged_id": merge.merged_id},
            occurred_at=now,
        )
    )


async def merge_group(session: AsyncSession, contact_id: int) -> list[int]:
    """The contact and every contact merged into it, directly or through others: one person."""
    group = [contact_id]
    frontier = [contact_id]
    while frontier:
        frontier = list(
            (await session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(frontier)))).all()
        )
        frontier = [c for c in frontier if c not in group]
        group += frontier
    return group
