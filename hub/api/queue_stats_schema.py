"""The routing statistics of a queue as typed structs, for the OpenAPI document and clients.

The router stores them as JSON (``hub.routing.stats``); ``GET /api/v1/queues`` converts
them into these, so the document shows every field. docs/routing.md explains each one.
"""

from __future__ import annotations

from typing import Any

import msgspec


class AgentCounts(msgspec.Struct):
    """Members of the queue, and of those whose skills meet its expression, what they do now."""

    members: int
    eligible: int
    available: int
    idle: int
    busy: int
    ringing: int
    on_call: int
    wrap_up: int
    at_capacity: int
    away: int
    offline: int


class NowFigures(msgspec.Struct):
    waiting: int
    offered: int
    waiting_by_priority: dict[str, int]
    waiting_by_channel: dict[str, int]
    waiting_by_media: dict[str, int]
    oldest_waiting_since: str | None
    agents: AgentCounts


class SlaRisk(msgspec.Struct):
    warning: int
    missed: int


class OfferCounts(msgspec.Struct):
    accepted: int
    rejected: int
    timed_out: int


class WindowFigures(msgspec.Struct):
    window_seconds: float
    entered: int
    answered: int
    abandoned: int
    handled: int
    service_level_seconds: float
    service_level: float | None
    average_speed_of_answer_seconds: float | None
    abandonment_rate: float | None
    average_handle_seconds: float | None
    offers: OfferCounts


class StaffingAdvice(msgspec.Struct):
    model: str
    arrivals_per_hour: float
    average_handle_seconds: float
    traffic_erlangs: float
    target_service_level: float
    max_occupancy: float
    agents_needed: int
    agents_working: int
    predicted_service_level_now: float | None


class RoutingStats(msgspec.Struct):
    """A queue's live routing statistics (the ``queue.stats`` event carries the same)."""

    queue_id: int
    queue: str
    now: NowFigures
    sla: SlaRisk
    window: WindowFigures
    staffing: StaffingAdvice | None


def typed(payload: dict[str, Any]) -> RoutingStats:
    """The stored payload as structs."""
    return msgspec.convert(payload, RoutingStats)
