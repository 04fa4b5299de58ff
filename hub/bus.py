"""The event bus: in-process when alone, Redis pub/sub when several hub processes share work.

Publishing happens after commit; every event also sits in the events table, so a
subscriber that missed something (a reconnecting websocket) catches up from there.
Transient events (``publish_transient``: presence signals) are the exception: never
written, so nothing can be caught up, and delivered only to subscriptions that ask
for them (``subscribe(transient=True)``); everyone else never sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Protocol

from hub.events import Event

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 10_000


class Subscription:
    """A local subscriber's queue. ``overflowed`` means events may have been missed: re-sync from the DB.

    Events go missing when the queue is full (a slow consumer) or when the bus lost its
    connection (``mark_missed``). A consumer that waits with ``next()`` is woken at once
    by a gap; one that iterates or calls ``get()`` checks ``overflowed`` itself.
    """

    def __init__(self, bus: LocalFanout, transient: bool = False) -> None:
        self._bus = bus
        self.transient = transient  # also receives transient events
        # None is a wake-up: "look at ``overflowed``"; it is never returned by ``get()``.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A lost signal is not a gap: the table could not replay it anyway.
            if not event.transient:
                self.overflowed = True

    def mark_missed(self) -> None:
        """Events may have been lost on the way: flag it and wake a consumer waiting in ``next()``."""
        self.overflowed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def get(self) -> Event:
        """The next event; gaps only show in ``overflowed``."""
        while (event := await self.queue.get()) is None:
            pass
        return event

    async def next(self) -> Event | None:
        """The next event, or None as soon as events may have been missed: re-sync, then ``reset()``."""
        if self.overflowed:
            return None
        event = await self.queue.get()
        return None if event is None or self.overflowed else event

    def reset(self) -> None:
        """Drop what is queued and clear the gap flag; call just before re-reading the events table.

        Every queued event was committed before it was published, so the re-read covers it.
        """
        self.overflowed = False
        while not self.queue.empty():
            self.queue.get_nowait()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is not None:
                yield event


class EventBus(Protocol):
    """What the hub needs from a bus: publish committed events, subscribe to everyone's."""

    async def start(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, *, transient: bool = False) -> Subscription: ...

    def mark_missed(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalFanout:
    """Delivers events to this process's subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, *, transient: bool = False) -> Subscription:
        """A new subscription; ``transient``: also transient events (they have no id)."""
        sub = Subscription(self, transient)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriptions(self) -> int:
        """How many local subscriptions are open (each takes every event)."""
        return len(self._subscribers)

    def deliver(self, events: Sequence[Event]) -> None:
        for sub in tuple(self._subscribers):
            for event in events:
                if sub.transient or not event.transient:
                    sub.offer(event)

    def mark_missed(self) -> None:
        """Tell every subscriber it may have missed events (e.g. the bus reconnected)."""
        for sub in tuple(self._subscribers):
            sub.mark_missed()


class InProcessBus(LocalFanout):
    """The bus of a single hub process."""

    async def start(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        self.deliver(events)

    async def aclose(self) -> None:
        return None


async def publish_transient(bus: EventBus, event: Event) -> None:
    """Publish a live signal that is never stored (``Event.transient``); only ``/ws`` sockets get it."""
    await bus.publish([replace(event, id=None, transient=True)])
