"""The event bus: in-process when alone, Redis pub/sub when several hub processes share work.

Publishing happens after commit; every event also sits in the events table, so a
subscriber that missed something (a reconnecting websocket) catches up from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from hub.events import Event

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 10_000


class Subscription:
    """A local subscriber's queue. ``overflowed`` means events were dropped: re-sync from the DB."""

    def __init__(self, bus: LocalFanout) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self) -> Subscription: ...

    async def aclose(self) -> None: ...


class LocalFanout:
    """Delivers events to this process's subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def deliver(self, events: Sequence[Event]) -> None:
        for sub in tuple(self._subscribers):
            for event in events:
                sub.offer(event)


class InProcessBus(LocalFanout):
    """The bus of a single hub process."""

    async def start(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        self.deliver(events)

    async def aclose(self) -> None:
        return None
