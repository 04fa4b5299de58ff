"""The consent ledger: append-only proof of who agreed to what, when, how (DSGVO Art. 7(1))."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class ConsentRecord(Base):
    """One statement of a contact: consent to ``purpose`` on ``channel`` granted or withdrawn.

    Rows are never changed; the newest statement (by ``occurred_at``, then ``id``) wins.
    ``evidence`` is personal data (the keyword message, a form's IP address).
    """

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column()
    source: Mapped[str] = mapped_column(String(64))
    text_version: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_consents_contact", ConsentRecord.contact_id, ConsentRecord.id)
