"""Typed domain events: written in the transaction of their change, published after commit.

An event carries ids and states, never message content or personal data, so the
events table and the bus never need erasing. Its scope (conversation, queue, user)
decides who may see it on ``/ws``.

A *transient* event (``transient=True``: who has a conversation open) is a live signal,
not a change: it is never written, has no id, and only reaches bus subscribers that ask
for such signals (``/ws``), never routing, connectors or outgoing webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import EventRecord, utcnow

MESSAGE_RECEIVED = "message.received"
MESSAGE_CREATED = "message.created"
MESSAGE_STATUS_CHANGED = "message.status_changed"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
OUTBOX_DEAD_LETTERED = "outbox.dead_lettered"
CONTACT_CONSENT_CHANGED = "contact.consent_changed"
CONTACT_RESTRICTED = "contact.restricted"
CONTACT_RESTRICTION_LIFTED = "contact.restriction_lifted"
CONTACT_ERASED = "contact.erased"
CHANNEL_QUARANTINED = "channel.quarantined"
# Routing (docs/routing.md, docs/events.md)
CONVERSATION_QUEUE_CHANGED = "conversation.queue_changed"
CONVERSATION_PRIORITY_CHANGED = "conversation.priority_changed"
CONVERSATION_OFFERED = "conversation.offered"
CONVERSATION_REQUEUED = "conversation.requeued"
OFFER_ACCEPTED = "offer.accepted"
OFFER_REJECTED = "offer.rejected"
OFFER_TIMED_OUT = "offer.timed_out"
OFFER_CANCELLED = "offer.cancelled"
AGENT_PRESENCE_CHANGED = "agent.presence_changed"
AGENT_UPDATED = "agent.updated"
ESCALATION_TRIGGERED = "escalation.triggered"
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
QUEUE_STATS = "queue.stats"
CONTACT_MERGED = "contact.merged"
CONTACT_UNMERGED = "contact.unmerged"

EVENT_TYPES = frozenset(
    {
        MESSAGE_RECEIVED,
        MESSAGE_CREATED,
        MESSAGE_STATUS_CHANGED,
        CONVERSATION_CREATED,
        CONVERSATION_ASSIGNED,
        CONVERSATION_STATUS_CHANGED,
        CONTACT_CREATED,
        CONTACT_UPDATED,
        OUTBOX_DEAD_LETTERED,
        CONTACT_CONSENT_CHANGED,
        CONTACT_RESTRICTED,
        CONTACT_RESTRICTION_LIFTED,
        CONTACT_ERASED,
        CHANNEL_QUARANTINED,
        CONVERSATION_QUEUE_CHANGED,
        CONVERSATION_PRIORITY_CHANGED,
        CONVERSATION_OFFERED,
        CONVERSATION_REQUEUED,
        OFFER_ACCEPTED,
        OFFER_REJECTED,
        OFFER_TIMED_OUT,
        OFFER_CANCELLED,
        AGENT_PRESENCE_CHANGED,
        AGENT_UPDATED,
        ESCALATION_TRIGGERED,
        SLA_WARNING,
        SLA_BREACHED,
        QUEUE_STATS,
        CONTACT_MERGED,
        CONTACT_UNMERGED,
    }
)

# Any constant works; it only has to be the same in every hub process.
_EVENT_ORDER_LOCK = 0x6875625F657674


@dataclass(frozen=True, slots=True)
class Event:
    """A domain event. ``id`` is set once written and is the client's replay cursor.

    ``transient`` events are never written (see the module doc): ``id`` stays None.
    """

    type: str
    conversation_id: int | None = None
    contact_id: int | None = None
    queue_id: int | None = None
    user_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=utcnow)
    id: int | None = None
    transient: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "conversation_id": self.conversation_id,
            "contact_id": self.contact_id,
            "queue_id": self.queue_id,
            "user_id": self.user_id,
            "data": self.data,
        }
        if self.transient:
            out["transient"] = True
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(
            id=raw["id"],
            type=raw["type"],
            occurred_at=datetime.fromisoformat(raw["occurred_at"]),
            conversation_id=raw.get("conversation_id"),
            contact_id=raw.get("contact_id"),
            queue_id=raw.get("queue_id"),
            user_id=raw.get("user_id"),
            data=raw.get("data") or {},
            transient=raw.get("transient") is True,
        )

    @classmethod
    def from_record(cls, row: EventRecord) -> Event:
        return cls(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            conversation_id=row.conversation_id,
            contact_id=row.contact_id,
            queue_id=row.queue_id,
            user_id=row.user_id,
            data=row.data,
        )


async def write_events(session: AsyncSession, events: Sequence[Event]) -> list[Event]:
    """Insert ``events`` in the caller's transaction and return them with their ids.

    On PostgreSQL a transaction-scoped advisory lock makes event ids become visible
    in id order, so a client resuming from cursor N can never miss an id below N
    that committed late. Call this last in the transaction: the lock is held to commit.
    """
    if not events:
        return []
    if any(e.transient for e in events):
        raise ValueError("transient events are published, never written (hub.bus.publish_transient)")
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _EVENT_ORDER_LOCK})
    rows = [
        {
            "type": e.type,
            "occurred_at": e.occurred_at,
            "conversation_id": e.conversation_id,
            "contact_id": e.contact_id,
            "queue_id": e.queue_id,
            "user_id": e.user_id,
            "data": e.data,
        }
        for e in events
    ]
    # Core, not the ORM entity: the ORM's bulk path costs a third of a busy ingest batch.
    table = EventRecord.__table__
    assert isinstance(table, Table)
    result = await session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    ids = [row[0] for row in result]
    return [
        Event(
            id=event_id,
            type=e.type,
            occurred_at=e.occurred_at,
            conversation_id=e.conversation_id,
            contact_id=e.contact_id,
            queue_id=e.queue_id,
            user_id=e.user_id,
            data=e.data,
        )
        for event_id, e in zip(ids, events, strict=True)
    ]

# Web chat (docs/channels/webchat.md): ephemeral signals between visitor and agents, and ratings.
CONVERSATION_TYPING = "conversation.typing"
CONVERSATION_READ = "conversation.read"
CONVERSATION_RATED = "conversation.rated"
EVENT_TYPES = EVENT_TYPES | {CONVERSATION_TYPING, CONVERSATION_READ, CONVERSATION_RATED}

# Phone calls (docs/calls.md): a call's live state, and the caller's record for the answering agent.
CALL_UPDATED = "call.updated"
CALL_SCREEN_POP = "call.screen_pop"
EVENT_TYPES = EVENT_TYPES | {CALL_UPDATED, CALL_SCREEN_POP}
# Web UI (docs/ui.md): tags on conversations, who has a conversation open, @mentions in notes.
CONVERSATION_TAGS_CHANGED = "conversation.tags_changed"
CONVERSATION_VIEWING = "conversation.viewing"
MESSAGE_MENTIONED = "message.mentioned"
EVENT_TYPES = EVENT_TYPES | {CONVERSATION_TAGS_CHANGED, CONVERSATION_VIEWING, MESSAGE_MENTIONED}
