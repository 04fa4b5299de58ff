"""One websocket's stream of events: catch-up from the events table, then live from the bus.

The order of operations is what makes it lossless. The caller subscribes to the bus
*before* the table is read, so an event committed during the read is both in the read
and in the subscription. Event ids become visible in the database in id order
(``hub.events.write_events``), and the bus delivers ids in order without gaps unless it
flags the subscription (``hub.bus_order``). So a single number suffices: ``floor``, the
id up to which every event is accounted for (sent, or not this user's to see). Anything
arriving at or below it is a duplicate; a flag makes the stream re-read the table from it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, web
from sqlalchemy import ColumnElement, func, or_, select, true

from hub.auth.policy import can_see_conversation
from hub.auth.principal import Principal
from hub.bus import Subscription
from hub.db.models import EventRecord
from hub.errors import HubError
from hub.events import Event
from hub.services import Services

log = logging.getLogger(__name__)

PAGE_SIZE = 500
REAUTH_SECONDS = 60.0
CLOSE_AUTH_EXPIRED = 4401  # private-use close code: log in again, then reconnect

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


class AuthExpired(Exception):
    """The socket's session or token is no longer valid."""


class EventStream:
    """Sends one user's visible events over one websocket, in id order, none lost, none twice."""

    def __init__(
        self,
        services: Services,
        ws: web.WebSocketResponse,
        subscription: Subscription,
        principal: Principal,
        reauthenticate: Callable[[], Awaitable[Principal]],
    ) -> None:
        self.services = services
        self.ws = ws
        self.subscription = subscription
        self.principal = principal
        self.closing = False  # set once this stream closes the socket itself
        self._reauthenticate = reauthenticate
        self._authenticated_at = asyncio.get_running_loop().time()
        self.floor = 0  # every event up to this id is accounted for

    async def run(self, cursor: int | None) -> None:
        """Hello, catch-up, then live until the socket or the task ends."""
        try:
            await self._run(cursor)
        except AuthExpired:
            await self._close(CLOSE_AUTH_EXPIRED, b"authentication expired")
        except ConnectionResetError:
            return  # the client went away; the handler cleans up
        except Exception:
            log.exception("websocket stream failed", extra={"user_id": self.principal.user_id})
            await self._close(WSCloseCode.INTERNAL_ERROR, b"internal error; reconnect with your cursor")

    async def _run(self, cursor: int | None) -> None:
        newest = await last_event_id(self.services)
        # A cursor past the newest id cannot be ours (another database?): start from the newest.
        self.floor = newest if cursor is None else min(cursor, newest)
        await self._send(
            {
                "type": "hello",
                "last_event_id": newest,
                "cursor": self.floor,
                "user_id": self.principal.user_id,
                "role": self.principal.role.value,
            }
        )
        await self._catch_up()
        while True:
            event = await self.subscription.next()
            if event is None:
                self.subscription.reset()  # before the read: whatever comes now is after it
                await self._catch_up()
                continue
            if event.transient:  # a live signal outside the id order (hub.bus.publish_transient)
                await self._check_auth()
                if event_visible(self.principal, event):
                    await self._send_event(event)
                continue
            if event.id is None or event.id <= self.floor:
                continue
            if event.id != self.floor + 1:
                # An id is missing: it may come later out of order, or belong to a rolled-back
                # transaction. Either way the table knows, since ids commit in id order.
                await self._catch_up()
                continue
            await self._check_auth()
            if event_visible(self.principal, event):
                await self._send_event(event)
            self.floor = event.id

    async def _catch_up(self) -> None:
        """Send the visible events after the floor from the table, page by page.

        Reads up to the newest id at the start of the read and then moves the floor
        there, past the events this user may not see, so that the next live id is
        expected to be ``floor + 1``.
        """
        newest = await last_event_id(self.services)
        while self.floor < newest:
            async with self.services.sessions() as session:
                rows = (
                    await session.scalars(
                        select(EventRecord)
                        .where(
                            EventRecord.id > self.floor,
                            EventRecord.id <= newest,
                            visible_events(self.principal),
                        )
                        .order_by(EventRecord.id)
                        .limit(PAGE_SIZE)
                    )
                ).all()
            for row in rows:
                await self._send_event(Event.from_record(row))
                self.floor = row.id
            if len(rows) < PAGE_SIZE:
                self.floor = max(self.floor, newest)
                return

    async def _check_auth(self) -> None:
        """Re-check the session or token now and then, so a revoked one stops receiving."""
        now = asyncio.get_running_loop().time()
        if now - self._authenticated_at < REAUTH_SECONDS:
            return
        try:
            self.principal = await self._reauthenticate()
        except HubError as exc:
            raise AuthExpired(exc.detail) from exc
        self._authenticated_at = now

    async def _send_event(self, event: Event) -> None:
        await self._send({"type": "event", "event": event.to_json()})

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(_encoder.encode(message).decode())

    async def _close(self, code: int, message: bytes) -> None:
        self.closing = True
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)
