"""Append-only records and work queues: timeline, events, outbox, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class TimelineEntry(Base):
    """One interaction on a contact's record. Append-only; ``data`` holds ids and states, no text."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


Index("ix_timeline_entries_contact", TimelineEntry.contact_id, TimelineEntry.id)
# Deleting a message or conversation (retention) sets these to NULL: each delete looks them up here.
Index("ix_timeline_entries_message_id", TimelineEntry.message_id)
Index("ix_timeline_entries_conversation_id", TimelineEntry.conversation_id)


class EventRecord(Base):
    """A domain event, written in the transaction of its change; ``id`` is the replay cursor.

    The scope columns decide who may see it; ``data`` holds ids and states, no content.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation_id: Mapped[int | None] = mapped_column()
    contact_id: Mapped[int | None] = mapped_column()
    queue_id: Mapped[int | None] = mapped_column()
    user_id: Mapped[int | None] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


Index("ix_events_occurred_at", EventRecord.occurred_at)
Index("ix_events_conversation_id", EventRecord.conversation_id, EventRecord.id)  # SLA folds one conversation's log


class OutboxItem(Base):
    """A message waiting to be sent through its channel adapter.

    ``state``: pending (due at ``next_attempt_at``), done, or dead (a dead letter).
    ``locked_until`` is the lease of the dispatcher that claimed it.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Provider messages of this reply already sent (text parts, attachments): a retry resumes after them.
    parts_sent: Mapped[int] = mapped_column(default=0, server_default="0")


Index("ix_outbox_due", OutboxItem.state, OutboxItem.next_attempt_at)


class IdempotencyKey(Base):
    """The stored answer to a POST sent with ``Idempotency-Key``, per user."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
