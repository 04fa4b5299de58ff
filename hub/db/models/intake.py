"""What channel adapters keep between runs: per-endpoint state and the quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class ChannelState(Base):
    """A small JSON document an adapter keeps under a key (IMAP: UIDVALIDITY and UIDs per folder).

    ``data`` holds positions, counters and server error texts, never message content.
    """

    __tablename__ = "channel_state"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedItem(Base):
    """An inbound item an adapter could not turn into a message, kept raw for admins.

    The raw bytes are a blob (personal data: it is a customer's mail). ``contact_id``
    is the contact whose address ``sender`` is, when one is known, so the item is part
    of that contact's record (exported, erased); ``sender`` is also swept on erasure.
    ``state``: ``open``, ``imported`` (a retry succeeded) or ``discarded``.
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(1000))
    source: Mapped[str | None] = mapped_column(String(300))  # e.g. "INBOX uidvalidity 7 uid 42"
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    size: Mapped[int] = mapped_column(default=0)
    sender: Mapped[str | None] = mapped_column(String(320))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="open")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_quarantine_channel_state", QuarantinedItem.channel_id, QuarantinedItem.state, QuarantinedItem.id)
# Deleting a message (retention) sets message_id to NULL: each delete looks it up here.
Index("ix_quarantine_message_id", QuarantinedItem.message_id)
