"""Lifecycles of the inbox's background workers, for the app's ``cleanup_ctx``.

Both start after the channel adapters and stop before them (cleanup runs in reverse),
so the dispatcher's in-flight sends finish while adapters and HTTP client still exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.api.keys import ADAPTERS, DISPATCHER, ROUTING, SERVICES
from hub.channels.base import ChannelAdapter
from hub.db.statistics import SqliteStatistics
from hub.inbox.call_finish import end_wrap_ups
from hub.inbox.call_routing import CallRoutingBridge
from hub.inbox.outbox import Dispatcher
from hub.inbox.periodic import Periodic
from hub.inbox.quarantine import QuarantineRetention
from hub.inbox.snoozer import Snoozer
from hub.routing.service import RoutingService, channel_infos
from hub.routing.settings import parse_routing


async def outbox_dispatcher(app: web.Application) -> AsyncIterator[None]:
    """Send queued replies while the app runs; on shutdown finish the sends in flight."""
    adapters = app[ADAPTERS]
    settings = app[SERVICES].settings
    dispatcher = Dispatcher(
        app[SERVICES],
        adapters,
        max_attempts=settings.outbox_max_attempts,
        poll_interval=settings.outbox_poll_seconds,
    )
    app[DISPATCHER] = dispatcher
    await dispatcher.start()
    yield
    await dispatcher.aclose()


async def snoozer(app: web.Application) -> AsyncIterator[None]:
    """Reopen snoozed conversations when their time has come."""
    worker = Snoozer(app[SERVICES])
    await worker.start()
    yield
    await worker.aclose()


async def quarantine_retention(app: web.Application) -> AsyncIterator[None]:
    """Delete quarantined items nobody handled within ``[quarantine] keep_days``."""
    services = app[SERVICES]
    worker = QuarantineRetention(services, services.settings.quarantine_keep_days)
    await worker.start()
    yield
    await worker.aclose()


async def sqlite_statistics(app: web.Application) -> AsyncIterator[None]:
    """Keep SQLite's planner statistics current (PostgreSQL's autovacuum does its own)."""
    worker = SqliteStatistics(app[SERVICES])
    await worker.start()
    yield
    await worker.aclose()


async def router(app: web.Application) -> AsyncIterator[None]:
    """Routing in this process: it routes while it holds the router lease (docs/routing.md)."""
    services = app[SERVICES]
    settings = parse_routing(services.settings).with_ids(services.queues)
    adapters: dict[str, ChannelAdapter] = app[ADAPTERS]
    service = RoutingService(services, settings, channel_infos(services, adapters))
    app[ROUTING] = service
    if settings.enabled:
        await service.start()
    yield
    await service.aclose()


CALL_WRAP_UP_INTERVAL = 1.0  # seconds; a call leaves wrap-up at most this late


async def call_wrap_up(app: web.Application) -> AsyncIterator[None]:
    """End calls whose wrap-up time is over (docs/calls.md)."""
    services = app[SERVICES]

    async def round() -> None:
        await end_wrap_ups(services)

    worker = Periodic("call-wrap-up", round, CALL_WRAP_UP_INTERVAL)
    await worker.start()
    yield
    await worker.aclose()


async def call_routing(app: web.Application) -> AsyncIterator[None]:
    """Calls follow routing's offers: ringing at the offered agent, queued again when not answered."""
    bridge = CallRoutingBridge(app[SERVICES])
    await bridge.start()
    yield
    await bridge.aclose()
