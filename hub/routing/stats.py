"""Live queue statistics: what waits now (from the engine), how it went lately (from outcomes).

``queue_stats`` builds one queue's payload; the router's ``StatsPublisher`` writes it
to ``routing_queue_stats`` every ``[routing] stats_interval`` for every process to
serve on ``GET /api/v1/queues``, and emits a ``queue.stats`` event when the figures
changed, for the supervisor wall on ``/ws``. The payload is described in docs/routing.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select

from hub import events as ev
from hub.db.models import QueueStatsSnapshot, RoutingOutcome, SlaClock
from hub.events import Event
from hub.routing.engine import Engine
from hub.routing.erlang import erlang_c_staffing, required_agents
from hub.routing.lease import Lease
from hub.routing.model import Activity, Presence, QueueRules
from hub.routing.settings import RoutingSettings
from hub.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SERVICE_LEVEL_TARGET = 0.8
MAX_OCCUPANCY = 0.85


@dataclass
class Window:
    """Outcomes of one queue over the statistics window."""

    entered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    handled: int = 0
    wait_total: float = 0.0
    handle_total: float = 0.0
    offers_accepted: int = 0
    offers_rejected: int = 0
    offers_timed_out: int = 0


def live_figures(engine: Engine, rules: QueueRules, now: float) -> dict[str, Any]:
    """The queue right now, from the engine: waiting work and the agents who could take it."""
    waiting = [item for item in engine.items.values() if item.queue_id == rules.id]
    by_priority: Counter[int] = Counter(item.priority for item in waiting)
    by_channel: Counter[str] = Counter(item.channel or "unknown" for item in waiting)
    by_media: Counter[str] = Counter(item.media for item in waiting)
    oldest = min((item.since for item in waiting), default=None)
    eligible = engine.eligible(rules.id, ((rules.skills.source if rules.skills else ""), 0))
    agents = {"members": len(engine.members.get(rules.id, ())), "eligible": len(eligible), "available": 0,
              "idle": 0, "busy": 0, "ringing": 0, "on_call": 0, "wrap_up": 0, "at_capacity": 0, "away": 0,
              "offline": 0}
    for agent_id in eligible:
        agent = engine.agents[agent_id]
        if agent.presence is not Presence.AVAILABLE:
            agents[agent.presence.value] += 1
            continue
        agents["available"] += 1
        activity = agent.activity(now)
        agents["at_capacity" if activity is Activity.BUSY else activity.value] += 1
    agents["busy"] = agents["available"] - agents["idle"]
    return {
        "waiting": len(waiting),
        "offered": sum(1 for item in waiting if item.offered_to is not None),
        "waiting_by_priority": {str(k): v for k, v in sorted(by_priority.items(), reverse=True)},
        "waiting_by_channel": dict(sorted(by_channel.items())),
        "waiting_by_media": dict(sorted(by_media.items())),
        "oldest_waiting_since": datetime.fromtimestamp(oldest, UTC).isoformat() if oldest is not None else None,
        "agents": agents,
    }


def window_figures(window: Window, rules: QueueRules, seconds: float) -> dict[str, Any]:
    """Service level, ASA, abandonment, AHT and offer answers over the window."""
    reached = window.answered + window.abandoned
    return {
        "window_seconds": seconds,
        "entered": window.entered,
        "answered": window.answered,
        "abandoned": window.abandoned,
        "service_level_seconds": rules.service_level_seconds,
        "service_level": round(window.answered_in_time / reached, 4) if reached else None,
        "average_speed_of_answer_seconds": round(window.wait_total / window.answered, 1) if window.answered else None,
        "abandonment_rate": round(window.abandoned / reached, 4) if reached else None,
        "average_handle_seconds": round(window.handle_total / window.handled, 1) if window.handled else None,
        "handled": window.handled,
        "offers": {"accepted": window.offers_accepted, "rejected": window.offers_rejected,
                   "timed_out": window.offers_timed_out},
    }


def staffing_advice(window: Window, rules: QueueRules, seconds: float, working: int) -> dict[str, Any] | None:
    """Erlang C from the live arrival rate and handle time: agents needed for the queue's target."""
    if not window.entered or not window.handled:
        return None
    aht = window.handle_total / window.handled
    if aht <= 0:
        return None
    figures, _ = required_agents(
        calls=window.entered, interval=seconds, aht=aht, target_sl=SERVICE_LEVEL_TARGET,
        target_seconds=rules.service_level_seconds, max_occupancy=MAX_OCCUPANCY,
    )
    now_figures = erlang_c_staffing(max(working, 0), figures.traffic, aht, rules.service_level_seconds) if working else None
    return {
        "model": "erlang_c",
        "arrivals_per_hour": round(window.entered / seconds * 3600, 2),
        "average_handle_seconds": round(aht, 1),
        "traffic_erlangs": round(figures.traffic, 3),
        "target_service_level": SERVICE_LEVEL_TARGET,
        "max_occupancy": MAX_OCCUPANCY,
        "agents_needed": figures.agents,
        "agents_working": working,
        "predicted_service_level_now": round(now_figures.service_level, 4) if now_figures else None,
    }


async def load_windows(services: Services, since: datetime) -> dict[int, Window]:
    """Every queue's outcomes since ``since``."""
    stmt = (
        select(
            RoutingOutcome.queue_id, RoutingOutcome.kind, func.count(),
            func.sum(case((RoutingOutcome.within_target.is_(True), 1), else_=0)),
            func.sum(RoutingOutcome.wait_seconds), func.sum(RoutingOutcome.handle_seconds),
        )
        .where(RoutingOutcome.occurred_at >= since, RoutingOutcome.queue_id.is_not(None))
        .group_by(RoutingOutcome.queue_id, RoutingOutcome.kind)
    )
    windows: dict[int, Window] = {}
    async with services.sessions() as session:
        for queue_id, kind, count, within, waits, handles in await session.execute(stmt):
            w = windows.setdefault(queue_id, Window())
            if kind == "entered":
                w.entered = count
            elif kind == "answered":
                w.answered, w.answered_in_time, w.wait_total = count, int(within or 0), float(waits or 0)
            elif kind == "abandoned":
                w.abandoned = count
            elif kind == "handled":
                w.handled, w.handle_total = count, float(handles or 0)
            elif kind == "offer_accepted":
                w.offers_accepted = count
            elif kind == "offer_rejected":
                w.offers_rejected = count
            elif kind == "offer_timed_out":
                w.offers_timed_out = count
    return windows


async def sla_at_risk(services: Services) -> dict[int, dict[str, int]]:
    """Per queue: running SLA clocks in warning, and those already missed."""
    out: dict[int, dict[str, int]] = {}
    async with services.sessions() as session:
        rows = await session.execute(
            select(SlaClock.queue_id, SlaClock.state, func.count())
            .where(SlaClock.running.is_(True), SlaClock.state.in_(("warning", "missed")), SlaClock.queue_id.is_not(None))
            .group_by(SlaClock.queue_id, SlaClock.state)
        )
        for queue_id, state, count in rows:
            assert queue_id is not None
            out.setdefault(queue_id, {"warning": 0, "missed": 0})[state] = count
    return out


class StatsPublisher:
    """Computes every queue's payload; stores it and emits ``queue.stats`` when it changed."""

    def __init__(self, services: Services, settings: RoutingSettings, lease: Lease, clock: Clock) -> None:
        self.services = services
        self.settings = settings
        self.lease = lease
        self.clock = clock
        self._last: dict[int, dict[str, Any]] = {}

    def reset(self) -> None:
        self._last.clear()

    async def compute(self, engine: Engine) -> dict[int, dict[str, Any]]:
        now = self.clock()
        seconds = self.settings.stats_window
        windows = await load_windows(self.services, now - timedelta(seconds=seconds))
        risk = await sla_at_risk(self.services)
        out = {}
        for rules in self.settings.queues:
            live = live_figures(engine, rules, now.timestamp())
            window = windows.get(rules.id, Window())
            working = live["agents"]["available"]
            out[rules.id] = {
                "queue_id": rules.id,
                "queue": rules.name,
                "now": live,
                "sla": risk.get(rules.id, {"warning": 0, "missed": 0}),
                "window": window_figures(window, rules, seconds),
                "staffing": staffing_advice(window, rules, seconds, working),
            }
        return out

    async def publish(self, engine: Engine) -> None:
        """Write the current figures; an event for each queue whose figures changed."""
        payloads = await self.compute(engine)
        changed = {q: p for q, p in payloads.items() if self._last.get(q) != p}
        if not changed:
            return
        now = self.clock()
        async with self.services.transaction() as unit:
            await self.lease.fence(unit.session)
            for queue_id, payload in changed.items():
                await unit.session.execute(delete(QueueStatsSnapshot).where(QueueStatsSnapshot.queue_id == queue_id))
                unit.session.add(QueueStatsSnapshot(queue_id=queue_id, data=payload, computed_at=now))
                unit.emit(Event(ev.QUEUE_STATS, queue_id=queue_id, occurred_at=now,
                                data={**payload, "computed_at": now.isoformat()}))
        self._last.update(changed)


async def stored_stats(services: Services) -> dict[int, tuple[dict[str, Any], datetime]]:
    """The latest stored payload of every queue, with when it was computed."""
    async with services.sessions() as session:
        rows = await session.execute(select(QueueStatsSnapshot.queue_id, QueueStatsSnapshot.data, QueueStatsSnapshot.computed_at))
        return {queue_id: (data, at) for queue_id, data, at in rows}
