"""The contact's timeline: the append-only log of every interaction with the customer.

Every area appends through ``append_timeline`` in the transaction of its change. An
entry has a ``kind`` from ``KINDS`` (documented in docs/crm.md); ``data`` carries ids,
states and numbers (a call's duration), never text, names or addresses, so the
timeline survives an erasure unchanged and statistics stay right.

A module with its own kinds registers them once at import time with ``register_kind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import TimelineEntry, utcnow

KINDS: dict[str, str] = {
    "message_in": "a message from the customer",
    "message_out": "a reply to the customer (queued for sending)",
    "note": "an internal note on a conversation (never sent)",
    "status_changed": "a conversation's status changed: data from, to, until",
    "assigned": "a conversation was (un)assigned: data from, to (user ids)",
    "contact_updated": "contact fields changed: data fields (names only)",
    "call": "a phone call: data direction (in/out), duration_seconds, wait_seconds, outcome",
    "consent_changed": "a consent statement was recorded: data consent_id, purpose, channel, granted, source",
    "restricted": "processing was restricted (Art. 18)",
    "restriction_lifted": "the restriction of processing was lifted",
    "merged": "another contact was merged into this one: data merge_id, other_contact_id",
    "merged_away": "this contact was merged into another: data merge_id, other_contact_id",
    "unmerged": "a merge was undone: data merge_id, other_contact_id",
    "exported": "the contact's data was exported (Art. 15/20)",
    "erased": "the contact's personal data was erased (Art. 17): data audit_id",
    "contact_note": "a note on the contact: data note_id",
    "tagged": "a tag was added: data tag",
    "untagged": "a tag was removed: data tag",
    "identity_added": "an identity was linked: data identity_id, kind",
    "identity_removed": "an identity was removed: data kind",
    "imported": "created or updated by a CSV import: data created (bool)",
}

_FORBIDDEN_DATA_KEYS = frozenset({"text", "body", "html", "subject", "name", "email", "phone", "address"})


def register_kind(kind: str, description: str) -> None:
    """Declare a timeline kind (call once per kind at import time; document it in docs/crm.md)."""
    known = KINDS.get(kind)
    if known is not None and known != description:
        raise ValueError(f"timeline kind {kind!r} is already registered as {known!r}")
    KINDS[kind] = description


def timeline_entry(
    contact_id: int,
    kind: str,
    *,
    conversation_id: int | None = None,
    channel_id: int | None = None,
    message_id: int | None = None,
    actor_user_id: int | None = None,
    occurred_at: datetime | None = None,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    """A new timeline row, checked: a known kind, no content-like keys in ``data``."""
    if kind not in KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}; register it with register_kind()")
    payload = dict(data or {})
    leaked = _FORBIDDEN_DATA_KEYS.intersection(payload)
    if leaked:
        raise ValueError(f"timeline data must hold ids and states, not {sorted(leaked)}")
    return TimelineEntry(
        contact_id=contact_id,
        conversation_id=conversation_id,
        channel_id=channel_id,
        kind=kind,
        actor_user_id=actor_user_id,
        message_id=message_id,
        occurred_at=occurred_at or utcnow(),
        data=payload,
    )


async def append_timeline(
    session: AsyncSession,
    contact_id: int,
    kind: str,
    *,
    conversation_id: int | None = None,
    channel_id: int | None = None,
    message_id: int | None = None,
    actor_user_id: int | None = None,
    occurred_at: datetime | None = None,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    """Append one entry to ``contact_id``'s timeline in the caller's transaction; returns it (with id)."""
    entry = timeline_entry(
        contact_id,
        kind,
        conversation_id=conversation_id,
        channel_id=channel_id,
        message_id=message_id,
        actor_user_id=actor_user_id,
        occurred_at=occurred_at,
        data=data,
    )
    session.add(entry)
    await session.flush()
    return entry
