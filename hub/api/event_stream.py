"""One websocket's stream of events: catch-up from the events table, then live from the fan-out.

The order of operations is what makes it lossless. The stream registers with the
process's fan-out (``hub.api.event_fanout``) *before* the table is read, so an event
committed during the read is both in the read and offered live. Event ids become
visible in the database in id order (``hub.events.write_events``), and the fan-out
offers the events this user may see in id order, none missing, unless the stream's own
queue overflows (a slow client). So a single number suffices: ``floor``, the id up to
which every event is accounted for (sent, or not this user's to see). Anything arriving
at or below it is a duplicate; an overflow makes the stream re-read the table from it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from hub.api.event_fanout import (
    PAGE_SIZE,
    AgentFanout,
    event_frame,
    event_visible,
    events_after,
    last_event_id,
)
from hub.auth.principal import Principal
from hub.errors import HubError
from hub.events import Event
from hub.services import Services

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000  # events offered and not yet sent; more and the stream re-reads the table
REAUTH_SECONDS = 60.0
CLOSE_AUTH_EXPIRED = 4401  # private-use close code: log in again, then reconnect

_encoder = msgspec.json.Encoder()

Offered = tuple[Event, bytes] | None  # None: the queue overflowed, re-read the table


class AuthExpired(Exception):
    """The socket's session or token is no longer valid."""


class EventStream:
    """Sends one user's visible events over one websocket, in id order, none lost, none twice."""

    def __init__(
        self,
        services: Services,
        ws: web.WebSocketResponse,
        fanout: AgentFanout,
        principal: Principal,
        reauthenticate: Callable[[], Awaitable[Principal]],
    ) -> None:
        self.services = services
        self.ws = ws
        self.fanout = fanout
        self.principal = principal
        self.closing = False  # set once this stream closes the socket itself
        self._reauthenticate = reauthenticate
        self._authenticated_at = asyncio.get_running_loop().time()
        self._queue: asyncio.Queue[Offered] = asyncio.Queue(QUEUE_SIZE)
        self._overflowed = False
        self.floor = 0  # every event up to this id is accounted for

    # --- from the fan-out -------------------------------------------------------------

    def offer(self, event: Event, frame: bytes) -> None:
        if self._overflowed:
            return  # the re-read covers it
        try:
            self._queue.put_nowait((event, frame))
        except asyncio.QueueFull:
            self._overflowed = True
            self._queue.get_nowait()  # room for the wake-up
            self._queue.put_nowait(None)

    # --- the sender ---------------------------------------------------------------------

    async def run(self, cursor: int | None) -> None:
        """Hello, catch-up, then live until the socket or the task ends."""
        self.fanout.add(self, self.principal)  # before the table is read: nothing falls between
        try:
            await self._run(cursor)
        except AuthExpired:
            await self._close(CLOSE_AUTH_EXPIRED, b"authentication expired")
        except ConnectionResetError:
            return  # the client went away; the handler cleans up
        except Exception:
            log.exception("websocket stream failed", extra={"user_id": self.principal.user_id})
            await self._close(WSCloseCode.INTERNAL_ERROR, b"internal error; reconnect with your cursor")
        finally:
            self.fanout.remove(self)

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
            item = await self._next()
            if item is None:
                self._reset()  # before the read: whatever is offered now is after it
                await self._catch_up()
                continue
            event, frame = item
            if event.transient:  # a live signal outside the id order (hub.bus.publish_transient)
                await self._check_auth()
                if event_visible(self.principal, event):
                    await self.ws.send_frame(frame, WSMsgType.TEXT)
                continue
            assert event.id is not None
            if event.id <= self.floor:
                continue
            await self._check_auth()
            if event_visible(self.principal, event):  # the fan-out's index, checked again exactly
                await self.ws.send_frame(frame, WSMsgType.TEXT)
            self.floor = event.id

    async def _next(self) -> Offered:
        """The next offered event; re-checks the login when none comes for ``REAUTH_SECONDS``,
        so that a revoked login's socket closes even while it has nothing to receive."""
        while self._queue.empty():
            try:
                async with asyncio.timeout(REAUTH_SECONDS):
                    return await self._queue.get()
            except TimeoutError:
                await self._check_auth()
        return self._queue.get_nowait()

    def _reset(self) -> None:
        self._overflowed = False
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _catch_up(self) -> None:
        """Send the visible events after the floor from the table, page by page.

        Reads up to the newest id at the start of the read and then moves the floor
        there, past the events this user may not see.
        """
        newest = await last_event_id(self.services)
        while self.floor < newest:
            page = await events_after(self.services, self.floor, newest, self.principal)
            for event in page:
                await self.ws.send_frame(event_frame(event), WSMsgType.TEXT)
                assert event.id is not None
                self.floor = event.id
            if len(page) < PAGE_SIZE:
                self.floor = max(self.floor, newest)
                return

    async def _check_auth(self) -> None:
        """Re-check the session or token now and then, so a revoked one stops receiving."""
        now = asyncio.get_running_loop().time()
        if now - self._authenticated_at < REAUTH_SECONDS:
            return
        try:
            principal = await self._reauthenticate()
        except HubError as exc:
            raise AuthExpired(exc.detail) from exc
        self._authenticated_at = now
        if principal != self.principal:  # e.g. queue memberships changed
            self.principal = principal
            self.fanout.add(self, principal)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_frame(_encoder.encode(message), WSMsgType.TEXT)

    async def _close(self, code: int, message: bytes) -> None:
        self.closing = True
        if not self.ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.close(code=code, message=message)
