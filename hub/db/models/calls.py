"""Phone calls: one row per call of a voice channel, and the recordings of calls.

A call belongs to a conversation of its channel (NULL only for a call refused before
it was taken, e.g. by the blocklist) and to the contact it was with. Personal data:
``from_number`` and ``to_number``; a recording's content (in the blob store).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class Call(Base):
    """A call and its live state (``hub.calls.CallState``); ``provider_call_id`` is unique per channel."""

    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("channel_id", "provider_call_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    provider_call_id: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    from_number: Mapped[str | None] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    state_at: Mapped[datetime] = mapped_column()  # when the current state began (the source's time)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column()
    queued_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    wrap_up_until: Mapped[datetime | None] = mapped_column()
    wait_seconds: Mapped[int | None] = mapped_column()
    talk_seconds: Mapped[int | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String(16))  # the hub ended it itself: "stale"
    # Bumped by every report: a compare-and-set that serializes reports of one call on SQLite too.
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_calls_state_queue", Call.state, Call.queue_id)


class CallRecording(Base):
    """A recording of a call; the audio is in the blob store under ``blob_sha256``."""

    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    duration_seconds: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
