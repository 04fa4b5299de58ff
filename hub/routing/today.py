"""A queue's day so far in buckets: volume, first response time and service level, for the wall's charts.

Computed on request from the tables that already hold the facts — conversations
(created, first human reply) and ``routing_outcomes`` (answered or abandoned, within
the queue's target or not) — so every hub process answers the same and nothing
extra is written. "Today" starts at midnight in the caller's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.db.models import Conversation, RoutingOutcome
from hub.services import Services


@dataclass
class Bucket:
    """One slice of the day. ``service_level`` = answered in target ÷ (answered + abandoned), null without any."""

    start: datetime
    entered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    first_responses: int = 0
    first_response_seconds_total: float = 0.0
    first_response_avg_seconds: float | None = None
    service_level: float | None = None

    def finish(self) -> None:
        if self.first_responses:
            self.first_response_avg_seconds = round(self.first_response_seconds_total / self.first_responses, 1)
        offered = self.answered + self.abandoned
        if offered:
            self.service_level = round(self.answered_in_target / offered, 4)


@dataclass
class DaySeries:
    queue_id: int
    day_start: datetime
    bucket_seconds: int
    buckets: list[Bucket] = field(default_factory=list)
    total: Bucket | None = None


def day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight of ``now``'s day in ``zone``, as an aware datetime (DST-safe)."""
    local = now.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone)


async def day_series(services: Services, queue_id: int, *, now: datetime, zone: ZoneInfo, bucket_minutes: int) -> DaySeries:
    """The buckets of ``queue_id`` from local midnight up to the bucket holding ``now``."""
    start = day_start(now, zone)
    size = timedelta(minutes=bucket_minutes)
    count = int((now - start) / size) + 1
    buckets = [Bucket(start=start + i * size) for i in range(count)]
    total = Bucket(start=start)

    def slot(at: datetime) -> Bucket | None:
        index = int((at - start) / size)
        return buckets[index] if 0 <= index < count else None

    async with services.sessions() as session:
        created = await session.scalars(
            select(Conversation.created_at).where(Conversation.queue_id == queue_id, Conversation.created_at >= start)
        )
        responded = await session.execute(
            select(Conversation.created_at, Conversation.first_response_at).where(
                Conversation.queue_id == queue_id, Conversation.first_response_at >= start
            )
        )
        outcomes = await session.execute(
            select(RoutingOutcome.kind, RoutingOutcome.occurred_at, RoutingOutcome.within_target).where(
                RoutingOutcome.queue_id == queue_id,
                RoutingOutcome.occurred_at >= start,
                RoutingOutcome.kind.in_(("answered", "abandoned")),
            )
        )
        for at in created:
            if (b := slot(at)) is not None:
                b.entered += 1
                total.entered += 1
        for opened, first in responded:
            if first is not None and (b := slot(first)) is not None:
                seconds = max(0.0, (first - opened).total_seconds())
                for target in (b, total):
                    target.first_responses += 1
                    target.first_response_seconds_total += seconds
        for kind, at, within in outcomes:
            if (b := slot(at)) is None:
                continue
            for target in (b, total):
                if kind == "answered":
                    target.answered += 1
                    target.answered_in_target += 1 if within else 0
                else:
                    target.abandoned += 1
    for b in (*buckets, total):
        b.finish()
    return DaySeries(queue_id=queue_id, day_start=start, bucket_seconds=int(size.total_seconds()), buckets=buckets,
                     total=total)
