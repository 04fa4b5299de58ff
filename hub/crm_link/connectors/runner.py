"""Runs the connectors: each follows the events table from its cursor, one hub process at a time.

Per connector and round: look (reading only) whether there is anything after the cursor
that this process may take; if so, take the cursor's lease (a guarded UPDATE, so with
several hub processes only one holds it), read the next events after the cursor, drop those of
restricted contacts and of types the connector does not want, hand the rest to
``handle``, and move the cursor past the batch. ``handle`` raising keeps the cursor
where it was and backs off (``hub.inbox.outbox.backoff_delay``). A new connector
starts after the newest event. The loop wakes on the bus or every ``poll_interval``,
but starts rounds at most every ``min_interval``: connectors are not real-time, and a
round per committed batch would make the cursor's two small write transactions compete
with ingest for SQLite's single writer (bench/twilio_webhooks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, func, or_, select, update

from hub.crm_link.connectors.base import Connector
from hub.db.models import ConnectorCursor, Contact, EventRecord, utcnow
from hub.db.upsert import insert_ignore
from hub.events import Event
from hub.inbox.outbox import backoff_delay
from hub.services import Services
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LEASE = timedelta(minutes=2)
ERROR_LENGTH = 500


class Pump(Protocol):
    """Work the runner's loop also does each round (sending webhook deliveries)."""

    async def run_once(self) -> int: ...


class ConnectorRunner:
    """Feeds committed events to connectors, and runs its pumps; one per hub process."""

    def __init__(
        self,
        services: Services,
        connectors: Sequence[Connector],
        *,
        pumps: Sequence[Pump] = (),
        clock: Clock = utcnow,
        poll_interval: float = 1.0,
        min_interval: float = 0.2,
        batch_size: int = 200,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.services = services
        self.connectors = list(connectors)
        self.pumps = list(pumps)
        self.clock = clock
        self.poll_interval = poll_interval
        self.min_interval = min_interval
        self.batch_size = batch_size
        self._rand = rand
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for new events now."""
        self._wakeup.set()

    async def start(self) -> None:
        """Start the connectors, then follow the events in the background."""
        for connector in self.connectors:
            await connector.start()
        self._task = asyncio.create_task(self._loop(), name="connectors")
        self._watch = asyncio.create_task(self._follow_bus(), name="connectors-bus")

    async def aclose(self) -> None:
        """Finish the round in progress, then close the connectors."""
        self._stopping = True
        self._stop.set()
        self._wakeup.set()
        await cancel_and_wait(self._watch)
        if self._task is not None:
            await self._task
        for connector in self.connectors:
            await connector.aclose()

    async def _follow_bus(self) -> None:
        subscription = self.services.bus.subscribe()
        try:
            while True:
                await subscription.get()
                self._wakeup.set()
        finally:
            subscription.close()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._wakeup.clear()
            started = loop.time()
            busy = False
            try:
                busy = await self.run_once() > 0
            except Exception:
                log.exception("connector round failed; trying again after the poll interval")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
            pause = started + self.min_interval - loop.time()
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)

    async def run_once(self) -> int:
        """One batch for every connector whose lease this process gets, then the pumps; work done."""
        handled = 0
        for connector in self.connectors:
            handled += await self.advance(connector)
        for pump in self.pumps:
            handled += await pump.run_once()
        return handled

    async def advance(self, connector: Connector) -> int:
        """Hand ``connector`` its next batch; returns how many events the cursor moved past."""
        now = self.clock()
        newest = await self._newest_if_work(connector.name, now)
        if newest is None:
            return 0
        cursor = await self._lease(connector.name, now, newest)
        if cursor is None:
            return 0
        if newest > cursor and await connector.idle():
            # ``newest`` was read before asking: whatever made the connector busy (a webhook
            # subscribed a moment later) is newer than the events skipped here unread.
            await self._release(connector.name, newest, now, succeeded=True)
            return newest - cursor
        async with self.services.sessions() as session:
            # Plain rows, not ORM objects: a busy hub hands connectors hundreds of events a second.
            rows = list(
                (
                    await session.execute(
                        select(*EventRecord.__table__.columns)
                        .where(EventRecord.id > cursor)
                        .order_by(EventRecord.id)
                        .limit(self.batch_size)
                    )
                ).all()
            )
            contacts = {r.contact_id for r in rows if r.contact_id is not None}
            restricted = set(
                (
                    await session.scalars(
                        select(Contact.id).where(Contact.id.in_(sorted(contacts)), Contact.restricted_at.is_not(None))
                    )
                ).all()
            ) if contacts else set()
        if not rows:
            await self._release(connector.name, cursor, now)
            return 0
        events = [
            Event.from_record(cast(EventRecord, r))
            for r in rows
            if r.contact_id not in restricted
            and (connector.event_types is None or r.type in connector.event_types)
        ]
        try:
            if events:
                await connector.handle(events)
        except Exception as exc:
            await self._failed(connector.name, now, exc)
            return 0
        await self._release(connector.name, rows[-1].id, now, succeeded=True)
        return len(rows)

    async def _newest_if_work(self, name: str, now: datetime) -> int | None:
        """The newest event id, or None when the cursor is at it, leased elsewhere or backing off (no writes)."""
        async with self.services.sessions() as session:
            newest = int(await session.scalar(select(func.coalesce(func.max(EventRecord.id), 0))) or 0)
            cursor = await session.get(ConnectorCursor, name)
        if cursor is None:
            return newest  # a new connector: the lease creates its cursor
        if cursor.locked_until is not None and cursor.locked_until > now:
            return None
        if cursor.next_try_at is not None and cursor.next_try_at > now:
            return None
        return newest if newest > cursor.last_event_id else None

    async def _lease(self, name: str, now: datetime, newest: int) -> int | None:
        """The cursor, leased to this process; a new connector's cursor starts at ``newest``."""
        async with self.services.sessions() as session, session.begin():
            await insert_ignore(session, ConnectorCursor, [{"name": name, "last_event_id": newest, "updated_at": now}])
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(ConnectorCursor)
                    .where(
                        ConnectorCursor.name == name,
                        or_(ConnectorCursor.locked_until.is_(None), ConnectorCursor.locked_until <= now),
                        or_(ConnectorCursor.next_try_at.is_(None), ConnectorCursor.next_try_at <= now),
                    )
                    .values(locked_until=now + LEASE)
                    .returning(ConnectorCursor.last_event_id)
                    .execution_options(synchronize_session=False)
                ),
            )
            row = result.first()
        return None if row is None else int(row[0])

    async def _release(self, name: str, cursor: int, now: datetime, *, succeeded: bool = False) -> None:
        values: dict[str, Any] = {"last_event_id": cursor, "locked_until": None, "updated_at": now}
        if succeeded:
            values.update(failures=0, next_try_at=None, last_error=None)
        async with self.services.sessions() as session, session.begin():
            await session.execute(
                update(ConnectorCursor).where(ConnectorCursor.name == name).values(**values)
                .execution_options(synchronize_session=False)
            )

    async def _failed(self, name: str, now: datetime, exc: Exception) -> None:
        async with self.services.sessions() as session, session.begin():
            cursor = await session.get(ConnectorCursor, name)
            assert cursor is not None
            cursor.failures += 1
            delay = backoff_delay(cursor.failures, rand=self._rand)
            cursor.next_try_at = now + timedelta(seconds=delay)
            cursor.locked_until = None
            cursor.last_error = type(exc).__name__  # not its text: it may quote data or credentials
            cursor.updated_at = now
        log.warning("connector %s failed (try %d); next try in %.0f s", name, cursor.failures, delay)
