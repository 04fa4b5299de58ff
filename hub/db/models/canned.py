"""Canned responses: reply texts staff reuse, per language, optionally for one queue only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class CannedResponse(Base):
    """A reply template; ``bodies`` maps a language (``de``, ``en``) to Jinja2 template source.

    ``format`` is ``text`` or ``html`` (rendered with autoescaping, then sanitized).
    ``queue_id`` null: every agent may use it; else only agents of that queue.
    """

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8), default="text")
    bodies: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_canned_responses_queue", CannedResponse.queue_id)
