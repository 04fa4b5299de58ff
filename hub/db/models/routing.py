"""Routing state: agents' presence, conversations in queues, offers, the leader lease, SLA, outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class RoutingAgent(Base):
    """An agent's presence and routing counters; a user without a row is offline."""

    __tablename__ = "routing_agents"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    presence: Mapped[str] = mapped_column(String(16), default="offline")  # available | away | offline
    presence_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    presence_reason: Mapped[str | None] = mapped_column(String(32))  # e.g. missed_offers
    last_routed_at: Mapped[datetime | None] = mapped_column()  # round robin's key, kept across restarts
    missed_offers: Mapped[int] = mapped_column(default=0)
    capacity: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # per-medium overrides of [routing] capacity
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingEntry(Base):
    """A conversation routing looks after: waiting, offered, or held by an agent.

    ``since`` is when the customer started waiting (orders the queue), ``entered_at``
    when it entered its current queue (escalation steps count from there).
    """

    __tablename__ = "routing_entries"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))  # waiting | offered | assigned | parked (pending, snoozed)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    media: Mapped[str] = mapped_column(String(16))
    realtime: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(100))
    since: Mapped[datetime] = mapped_column()
    entered_at: Mapped[datetime] = mapped_column()
    step: Mapped[int] = mapped_column(default=0)
    assigned_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_routing_entries_queue_state", RoutingEntry.queue_id, RoutingEntry.state)
Index("ix_routing_entries_agent", RoutingEntry.agent_id)


class RoutingOffer(Base):
    """An offer of a real-time conversation to one agent. At most one is pending per conversation."""

    __tablename__ = "routing_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected | timed_out | cancelled
    offered_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()


Index(
    "uq_routing_offers_pending",
    RoutingOffer.conversation_id,
    unique=True,
    sqlite_where=text("state = 'pending'"),
    postgresql_where=text("state = 'pending'"),
)
Index("ix_routing_offers_agent_state", RoutingOffer.agent_id, RoutingOffer.state)
# A conversation's offers: for its export and for the cascade when retention deletes it.
Index("ix_routing_offers_conversation_id", RoutingOffer.conversation_id)


class RoutingLease(Base):
    """The router's leadership: one hub process holds it until ``expires_at``; ``epoch`` fences."""

    __tablename__ = "routing_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    epoch: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column()


class SlaClock(Base):
    """A conversation's SLA target as last computed from its events (for lists and alerts)."""

    __tablename__ = "routing_sla"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    policy: Mapped[str] = mapped_column(String(100))
    queue_id: Mapped[int | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))  # active | warning | hit | missed
    running: Mapped[bool] = mapped_column(default=True)
    goal_seconds: Mapped[float] = mapped_column()
    elapsed_seconds: Mapped[float] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    warn_at: Mapped[datetime | None] = mapped_column()
    met_at: Mapped[datetime | None] = mapped_column()
    cycle_started_at: Mapped[datetime | None] = mapped_column()  # next_response: the current cycle
    warned: Mapped[bool] = mapped_column(default=False)  # sla.warning sent for this cycle
    breached: Mapped[bool] = mapped_column(default=False)  # sla.breached sent for this cycle
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_routing_sla_due", SlaClock.running, SlaClock.due_at)
Index("ix_routing_sla_queue_state", SlaClock.queue_id, SlaClock.state)


class RoutingOutcome(Base):
    """Append-only log of what routing achieved, for windowed statistics and reports.

    ``kind``: answered (``wait_seconds``, ``within_target``), abandoned (``wait_seconds``),
    handled (``handle_seconds``), offer_accepted, offer_rejected, offer_timed_out.
    """

    __tablename__ = "routing_outcomes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue_id: Mapped[int | None] = mapped_column()
    conversation_id: Mapped[int | None] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    media: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column()
    wait_seconds: Mapped[float | None] = mapped_column()
    handle_seconds: Mapped[float | None] = mapped_column()
    within_target: Mapped[bool | None] = mapped_column()


Index("ix_routing_outcomes_at", RoutingOutcome.occurred_at, RoutingOutcome.queue_id)


class QueueStatsSnapshot(Base):
    """The latest live statistics of a queue, written by the router for every process to serve."""

    __tablename__ = "routing_queue_stats"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column()
