"""One bus subscription per process for every ``/ws`` socket, fanned out by who may see what.

Fifty agents' sockets must not each take and check every event of the hub. This fan-out
holds the process's only subscription for them, keeps the stream's order (``floor``: the
id up to which every event is accounted for, as ``hub.api.event_stream`` describes) once
for all sockets, and hands each event only to the sockets that may see it: those of
supervisors and admins, those of agents in the event's queue, and the socket of the user
it is addressed to (``hub.auth.policy.can_see_conversation``, by index instead of by
scan). The frame is encoded once per event, not once per socket. A gap on the bus or an
id out of order makes it re-read the events table once, for everyone.

Its promise to a listener: from ``add()`` on, every event with an id above the floor at
that moment that the listener's principal may see is offered, in id order, at most once.
Transient events (presence signals without an id, ``hub.bus.publish_transient``) are
offered as they come, outside that order, and never re-read (the table has none).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

import msgspec
from sqlalchemy import ColumnElement, func, or_, select, true

from hub.auth.policy import can_see_conversation
from hub.auth.principal import Principal
from hub.bus import Subscription
from hub.db.models import EventRecord
from hub.events import Event
from hub.services import Services
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

PAGE_SIZE = 500
RETRY_SECONDS = 1.0  # after a failed read of the events table

_encoder = msgspec.json.Encoder()


def event_visible(principal: Principal, event: Event) -> bool:
    """Supervisors and admins see every event; agents those of their queues or addressed to them."""
    return can_see_conversation(principal, event.queue_id, event.user_id)


def visible_events(principal: Principal) -> ColumnElement[bool]:
    """``event_visible`` as a WHERE clause on ``EventRecord``."""
    if principal.sees_everything:
        return true()
    return or_(EventRecord.queue_id.in_(sorted(principal.queue_ids)), EventRecord.user_id == principal.user_id)


async def last_event_id(services: Services) -> int:
    """The newest event id in the table, 0 when there is none."""
    async with services.sessions() as session:
        return int(await session.scalar(select(func.max(EventRecord.id))) or 0)


async def events_after(
    services: Services, floor: int, up_to: int, principal: Principal | None = None
) -> list[Event]:
    """Up to ``PAGE_SIZE`` events with ``floor < id <= up_to`` in id order (those ``principal`` sees)."""
    query = select(EventRecord).where(EventRecord.id > floor, EventRecord.id <= up_to)
    if principal is not None:
        query = query.where(visible_events(principal))
    async with services.sessions() as session:
        rows = (await session.scalars(query.order_by(EventRecord.id).limit(PAGE_SIZE))).all()
    return [Event.from_record(row) for row in rows]


def event_frame(event: Event) -> bytes:
    """The ``/ws`` text frame of an event."""
    return _encoder.encode({"type": "event", "event": event.to_json()})


class Listener(Protocol):
    """A socket's stream as the fan-out sees it."""

    def offer(self, event: Event, frame: bytes) -> None:
        """Take a visible event; never blocks (a full queue makes the stream re-read the table)."""
        ...


class AgentFanout:
    """Delivers the bus's events to the ``/ws`` streams of this process that may see them."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.floor = 0  # every event up to this id has been offered to whoever may see it
        self._everything: set[Listener] = set()
        self._by_queue: dict[int, set[Listener]] = defaultdict(set)
        self._by_user: dict[int, set[Listener]] = defaultdict(set)
        self._scopes: dict[Listener, Principal] = {}
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe, then take the newest id as the floor: nothing falls between the two."""
        self._subscription = self._services.bus.subscribe(transient=True)
        self.floor = await last_event_id(self._services)
        self._task = asyncio.create_task(self._run(), name="ws-fanout")

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        if self._subscription is not None:
            self._subscription.close()

    # --- listeners ---------------------------------------------------------------------

    def add(self, listener: Listener, principal: Principal) -> None:
        """Offer ``listener`` what ``principal`` may see, from the current floor on."""
        self.remove(listener)
        self._scopes[listener] = principal
        if principal.sees_everything:
            self._everything.add(listener)
            return
        self._by_user[principal.user_id].add(listener)
        for queue_id in principal.queue_ids:
            self._by_queue[queue_id].add(listener)

    def remove(self, listener: Listener) -> None:
        principal = self._scopes.pop(listener, None)
        if principal is None:
            return
        self._everything.discard(listener)
        _discard(self._by_user, principal.user_id, listener)
        for queue_id in principal.queue_ids:
            _discard(self._by_queue, queue_id, listener)

    @property
    def listeners(self) -> int:
        return len(self._scopes)

    def recipients(self, event: Event) -> set[Listener]:
        """The listeners that may see ``event``."""
        found = set(self._everything)
        if event.queue_id is not None and event.queue_id in self._by_queue:
            found |= self._by_queue[event.queue_id]
        if event.user_id is not None and event.user_id in self._by_user:
            found |= self._by_user[event.user_id]
        return found

    # --- the stream ----------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._subscription is not None
        subscription = self._subscription
        while True:
            try:
                event = await subscription.next()
                if event is None:
                    subscription.reset()  # before the read: whatever comes now is after it
                    await self._catch_up()
                elif event.transient:
                    self._offer(event)
                elif event.id is None or event.id <= self.floor:
                    continue
                elif event.id != self.floor + 1:
                    # An id is missing: it may come later out of order, or belong to a rolled-back
                    # transaction. Either way the table knows, since ids commit in id order.
                    await self._catch_up()
                else:
                    self._deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the /ws fan-out could not read the events table; retrying")
                subscription.mark_missed()  # the next round re-reads from the floor
                await asyncio.sleep(RETRY_SECONDS)

    async def _catch_up(self) -> None:
        """Offer the events after the floor from the table, page by page, then move the floor to the newest."""
        newest = await last_event_id(self._services)
        while self.floor < newest:
            page = await events_after(self._services, self.floor, newest)
            for event in page:
                self._deliver(event)
            if len(page) < PAGE_SIZE:
                self.floor = max(self.floor, newest)
                return

    def _deliver(self, event: Event) -> None:
        assert event.id is not None
        self.floor = event.id
        self._offer(event)

    def _offer(self, event: Event) -> None:
        recipients = self.recipients(event)
        if not recipients:
            return
        frame = event_frame(event)
        for listener in recipients:
            listener.offer(event, frame)


def _discard(index: dict[int, set[Listener]], key: int, listener: Listener) -> None:
    listeners = index.get(key)
    if listeners is not None:
        listeners.discard(listener)
        if not listeners:
            del index[key]
