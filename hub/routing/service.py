"""The routing service: a background task in every hub process; the lease holder routes.

Every process runs it. Each tries to take the router lease (``hub.routing.lease``);
the holder subscribes to the event bus *before* it reads the database (so nothing
falls between), builds the engine, and then keeps it in line with every event,
runs its timers and applies its decisions. The others wait and try again, so when
the holder dies another process takes over within one lease period and rebuilds
from the database: nothing is lost, because every decision is committed before it
counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hub.bus import Subscription
from hub.channels.base import ChannelAdapter
from hub.events import Event
from hub.routing.lease import Lease, LeaseLost
from hub.routing.router import ChannelInfo, Router
from hub.routing.settings import RoutingSettings
from hub.routing.sla_worker import SlaWorker
from hub.routing.stats import StatsPublisher
from hub.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AGENT_REFRESH_SECONDS = 30.0
SLA_SCAN_SECONDS = 15.0
MAX_BATCH = 2000
BATCH_WINDOW = 0.05  # seconds the router waits after an event for the ones that follow it


def channel_infos(services: Services, adapters: Mapping[str, ChannelAdapter]) -> dict[int, ChannelInfo]:
    """Channel id -> name, medium and real-time flag, from the running adapters' capabilities."""
    infos = {}
    for name, endpoint in services.endpoints.items():
        adapter = adapters.get(name)
        if adapter is None:
            infos[endpoint.channel_id] = ChannelInfo(name, "messaging", False)
        else:
            caps = adapter.capabilities
            infos[endpoint.channel_id] = ChannelInfo(name, caps.media, caps.realtime)
    return infos


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RoutingService:
    """Start with ``start()``, stop with ``aclose()``; ``router`` is set while this process leads."""

    def __init__(
        self,
        services: Services,
        settings: RoutingSettings,
        channels: Mapping[int, ChannelInfo],
        *,
        clock: Clock = _utcnow,
        holder: str | None = None,
    ) -> None:
        self.services = services
        self.settings = settings
        self.channels = channels
        self.clock = clock
        self.lease = Lease(services, seconds=settings.lease_seconds, holder=holder)
        self.router: Router | None = None
        self.sla = SlaWorker(services, settings, channels, self.lease, clock)
        self.stats = StatsPublisher(services, settings, self.lease, clock)
        self.idle = asyncio.Event()  # set whenever the leader has nothing left to do (tests wait on it)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="routing")

    async def aclose(self) -> None:
        """Stop; hand the lease back so another process takes over at once."""
        self._stop.set()
        if self._task is not None:
            await self._task
        self._leave()
        with contextlib.suppress(Exception):
            await self.lease.release(self.clock())

    async def _loop(self) -> None:
        renew_every = self.settings.lease_seconds / 3
        next_renew = 0.0
        next_agents = next_sla = next_stats = 0.0
        loop = asyncio.get_running_loop()
        stale = False  # a failed round may have consumed events it did not apply
        while not self._stop.is_set():
            try:
                if loop.time() >= next_renew:
                    next_renew = loop.time() + renew_every
                    leading = await self.lease.step(self.clock())
                    if leading and self.router is None:
                        await self._lead()
                        next_agents = loop.time() + AGENT_REFRESH_SECONDS
                    elif not leading and self.router is not None:
                        log.warning("lost the router lease; standing by")
                        self._leave()
                if self.router is None:
                    self.idle.set()
                    await self._sleep(max(0.0, next_renew - loop.time()))
                    continue
                router = self.router
                if stale:
                    assert self._subscription is not None
                    self._subscription.reset()
                    await router.rebuild()
                    await self.sla.rebuild()
                    stale = False
                if loop.time() >= next_agents:
                    next_agents = loop.time() + AGENT_REFRESH_SECONDS
                    await router.refresh_agents()
                await router.tick()
                if loop.time() >= next_sla:
                    next_sla = loop.time() + min(SLA_SCAN_SECONDS, self.settings.stats_interval)
                    await self.sla.scan_due()
                if loop.time() >= next_stats:
                    next_stats = loop.time() + self.settings.stats_interval
                    await self.stats.publish(router.engine)
                due = router.engine.next_due()
                wait = min(next_renew, next_stats, next_sla, next_agents) - loop.time()
                if due is not None:
                    wait = min(wait, due - self.clock().timestamp())
                events = await self._collect(max(0.0, wait))
                if events is None:
                    log.info("router missed events on the bus; re-reading the database")
                    assert self._subscription is not None
                    self._subscription.reset()
                    await router.rebuild()
                elif events:
                    await router.handle(events)
                    await self.sla.handle(events)
            except LeaseLost:
                log.warning("another process took over routing")
                self._leave()
            except Exception:
                log.exception("routing round failed; re-reading the database and retrying")
                stale = True
                await self._sleep(1.0)

    async def _lead(self) -> None:
        self._subscription = self.services.bus.subscribe()  # before reading: nothing falls between
        router = Router(self.services, self.settings, self.channels, self.lease, self.clock)
        try:
            await router.rebuild()
            await self.sla.rebuild()
        except BaseException:
            self._leave()
            raise
        self.router = router
        log.info("this process routes now", extra={"holder": self.lease.holder, "epoch": self.lease.epoch})

    def _leave(self) -> None:
        self.router = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def _collect(self, wait_seconds: float) -> list[Event] | None:
        """Events from the bus within ``wait_seconds`` (a batch); None when some may have been missed."""
        subscription = self._subscription
        assert subscription is not None
        if subscription.queue.empty():
            self.idle.set()
        try:
            first = await asyncio.wait_for(subscription.next(), wait_seconds) if wait_seconds > 0 else None
        except TimeoutError:
            return []
        if first is None:
            if wait_seconds <= 0 and not subscription.overflowed:
                return self._drain(subscription, [])
            return None
        self.idle.clear()
        # Let the burst this event belongs to arrive: one read and one write for many events
        # instead of a transaction per ingest batch (SQLite has a single writer).
        await asyncio.sleep(BATCH_WINDOW)
        return self._drain(subscription, [first])

    def _drain(self, subscription: Subscription, batch: list[Event]) -> list[Event] | None:
        while not subscription.queue.empty() and len(batch) < MAX_BATCH:
            event = subscription.queue.get_nowait()
            if event is None or subscription.overflowed:
                return None
            batch.append(event)
        if batch:
            self.idle.clear()
        return batch

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
