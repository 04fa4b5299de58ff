"""Connectors to outside systems: cursors over the events table, outgoing webhooks and their log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class ConnectorCursor(Base):
    """How far a connector has handled the events table; the lease keeps it to one hub process."""

    __tablename__ = "connector_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId)
    locked_until: Mapped[datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(Base):
    """An outside system's URL that gets the events it subscribed to, signed with ``secret``."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"types": [...]}; ["*"] for all
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: ``pending`` (due at ``next_attempt_at``), ``done`` or ``dead``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(BigId)
    payload: Mapped[str] = mapped_column(String(20_000))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


Index("ix_webhook_deliveries_due", WebhookDelivery.state, WebhookDelivery.next_attempt_at)
Index("ix_webhook_deliveries_subscription", WebhookDelivery.subscription_id, WebhookDelivery.id)
Index("ix_webhook_deliveries_contact", WebhookDelivery.contact_id)


class WebhookAttempt(Base):
    """One try to deliver: the receiver's HTTP status (None: no answer) and what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(default=0)
    replay: Mapped[bool] = mapped_column(default=False)
