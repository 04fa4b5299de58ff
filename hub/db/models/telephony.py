"""Where agents take calls, and which offers already rang their phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, utcnow


class AgentPhone(Base):
    """An agent's phone number (E.164) and/or SIP address, which voice channels ring."""

    __tablename__ = "agent_phones"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    sip: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallRing(Base):
    """An offer whose agent a voice channel was asked to ring: one row, so one process rings once."""

    __tablename__ = "call_rings"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("routing_offers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    rung_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallLanguage(Base):
    """The language a caller chose in a voice channel's menu, for the prompts of the rest of the call."""

    __tablename__ = "call_languages"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    provider_call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
