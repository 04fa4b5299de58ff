"""Web chat visitors (the widget's sessions) and satisfaction ratings of conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class WebchatVisitor(Base):
    """One browser's chat session on a web chat channel.

    ``key`` is the random id inside the signed visitor token and the visitor's platform
    identity. Personal data: ``key``, ``user_id``, ``email``, ``name``, ``prechat``.
    """

    __tablename__ = "webchat_visitors"
    __table_args__ = (UniqueConstraint("channel_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    key: Mapped[str] = mapped_column(String(64))
    # Set with the first message; the contact's erasure removes the visitor with it.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(250))  # the site's user id, HMAC-verified
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    prechat: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None while a socket is open (or was, when a process died holding it).
    disconnected_at: Mapped[datetime | None] = mapped_column()
    agent_read_up_to: Mapped[int | None] = mapped_column(BigInteger)


class ConversationRating(Base):
    """The customer's satisfaction rating (1-5) of a resolved conversation; ``comment`` is personal."""

    __tablename__ = "conversation_ratings"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_conversation_ratings_created_at", ConversationRating.created_at)
