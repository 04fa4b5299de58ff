"""One visitor websocket after the handshake: frames in, live events and answers out.

Everything the visitor is sent goes through one queue and one sender task, so frames
never interleave and a slow browser only fills its own queue (then it re-syncs from the
database instead of holding the hub back).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any, Protocol

import msgspec

from hub import events as ev
from hub.channels.webchat.adapter import WebchatChannel
from hub.channels.webchat.protocol import (
    Delivered,
    Frame,
    Rate,
    Read,
    SendMessage,
    SetEmail,
    Typing,
)
from hub.crm_link import identities
from hub.errors import HubError, ValidationFailed
from hub.events import Event
from hub.messages import Attachment, DeliveryStatus, InboundMessage
from hub.services import Services
from hub.validation import ensure_storable
from hub.webchat import history, signals, visitors
from hub.webchat.limits import WidgetLimits
from hub.webchat.live import LiveVisitors
from hub.webchat.visitors import Visitor

log = logging.getLogger(__name__)

QUEUE_SIZE = 500
TYPING_INTERVAL = 3.0  # seconds between two "typing" events of one visitor

_encoder = msgspec.json.Encoder()


class Socket(Protocol):
    async def send_str(self, data: str) -> None: ...


class Ingest(Protocol):
    async def __call__(self, message: InboundMessage) -> Any: ...


Outgoing = Event | dict[str, Any] | None  # None: re-sync from the database


class VisitorConnection:
    """The server side of one widget."""

    def __init__(
        self,
        services: Services,
        adapter: WebchatChannel,
        visitor: Visitor,
        socket: Socket,
        live: LiveVisitors,
        limits: WidgetLimits,
        ingest: Ingest,
        conversation_ids: list[int],
    ) -> None:
        self.services = services
        self.adapter = adapter
        self.visitor = visitor
        self.socket = socket
        self.live = live
        self.limits = limits
        self.ingest = ingest
        self.conversation_ids = list(conversation_ids)
        self.last_message_id = 0
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(QUEUE_SIZE)
        self._overflowed = False
        self._typing_sent_at = 0.0
        self._typing = False
        self._own: set[int] = set()  # ids of messages this socket sent: acked, no need to echo
        self._submitting = 0
        self._seen_up_to: dict[DeliveryStatus, int] = {}
        self._submitted = asyncio.Event()  # set while no submit waits for its ingest
        self._submitted.set()

    # --- from the live hub -----------------------------------------------------------

    def offer(self, event: Event) -> None:
        self._put(event)

    def resync(self) -> None:
        self._overflowed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the visitor."""
        self._put(frame)

    def _put(self, item: Outgoing) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.resync()

    # --- the sender task ---------------------------------------------------------------

    async def run_sender(self) -> None:
        """Send queued frames and live events until cancelled."""
        while True:
            item = await self._queue.get()
            if item is None or self._overflowed:
                self._overflowed = False
                while not self._queue.empty():
                    self._queue.get_nowait()
                await self._catch_up()
            elif isinstance(item, Event):
                await self._send_event(item)
            else:
                await self._write(item)

    async def _write(self, frame: dict[str, Any]) -> None:
        await self.socket.send_str(_encoder.encode(frame).decode())

    async def _send_messages(self, message_id: int | None = None) -> None:
        async with self.services.sessions() as session:
            views = await history.message_views(
                session, self.conversation_ids, after=self.last_message_id if message_id is None else 0,
                message_id=message_id,
            )
        for view in views:
            await self._write({"type": "message", "message": view})
            self.last_message_id = max(self.last_message_id, view["id"])

    async def _catch_up(self) -> None:
        await self._send_messages()
        async with self.services.sessions() as session:
            states = await history.conversation_states(session, self.conversation_ids)
        for state in states:
            await self._write({"type": "conversation", "conversation": state})

    async def _send_event(self, event: Event) -> None:
        data = event.data
        if event.type in (ev.MESSAGE_RECEIVED, ev.MESSAGE_CREATED):
            message_id = int(data["message_id"])
            if event.type == ev.MESSAGE_RECEIVED and self._submitting:
                await self._submitted.wait()  # the event may be ours, published just before our ack
            if data.get("private") or message_id in self._own:
                self._own.discard(message_id)
                return
            await self._send_messages(message_id=message_id)
        elif event.type == ev.CONVERSATION_STATUS_CHANGED:
            await self._write(
                {"type": "conversation", "conversation": {"id": event.conversation_id, "status": data["status"]}}
            )
        elif event.type == ev.CONVERSATION_TYPING and data.get("by") == "agent":
            await self._write({"type": "typing", "conversation_id": event.conversation_id, "typing": data["typing"]})
        elif event.type == ev.CONVERSATION_READ and data.get("by") == "agent":
            await self._write({"type": "read", "conversation_id": event.conversation_id, "up_to": data["up_to_message_id"]})
        elif event.type == ev.CONVERSATION_RATED:
            await self._write({"type": "rated", "conversation_id": event.conversation_id, "score": data["score"]})

    # --- frames from the visitor ------------------------------------------------------

    async def handle(self, frame: Frame) -> None:
        """Act on one frame; a refused frame is answered with an error frame and changes nothing."""
        client_id = frame.client_id if isinstance(frame, SendMessage) else None
        try:
            if isinstance(frame, SendMessage):
                await self._message(frame)
            elif isinstance(frame, Typing):
                await self._typing_frame(frame.typing)
            elif isinstance(frame, Read | Delivered):
                status = DeliveryStatus.READ if isinstance(frame, Read) else DeliveryStatus.DELIVERED
                if frame.up_to > self._seen_up_to.get(status, 0):  # a repeat changes nothing: no query
                    self._seen_up_to[status] = frame.up_to
                    await signals.visitor_saw(self.services, self.conversation_ids, frame.up_to, status)
            elif isinstance(frame, Rate):
                await signals.rate(self.services, self.conversation_ids, frame.conversation_id, frame.score, frame.comment)
                await self._write({"type": "rated", "conversation_id": frame.conversation_id, "score": frame.score})
            elif isinstance(frame, SetEmail):
                address = identities.email(frame.email).address
                await visitors.set_email(self.services, self.visitor.id, address)
                self.visitor = dataclasses.replace(self.visitor, email=address)
                await self._write({"type": "email_saved"})
        except HubError as exc:
            self.send_error(exc, client_id)

    def send_error(self, exc: HubError, client_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "status": exc.status, "title": exc.title, "detail": exc.detail}
        if client_id is not None:
            frame["client_id"] = client_id
        frame.update(exc.extra)
        self.send(frame)

    async def submit(self, client_id: str, text: str, attachments: tuple[Attachment, ...] = ()) -> dict[str, Any]:
        """Ingest a visitor message (rate-limited, idempotent per client id); the ack frame."""
        if not text.strip() and not attachments:
            raise ValidationFailed("the message is empty")
        ensure_storable(text=text)
        opts = self.adapter.options
        await self.limits.message(self.adapter.name, self.visitor.key, opts.messages_per_minute)
        visitor = self.visitor
        verified = visitor.email if visitor.email_verified else None
        inbound = self.adapter.inbound(
            key=visitor.key,
            client_id=client_id,
            text=text,
            sender=self.adapter.visitor_identities(visitor.key, visitor.user_id, verified),
            name=visitor.name,
            attachments=attachments,
        )
        self._submitting += 1
        self._submitted.clear()
        try:
            result = await self.ingest(inbound)
            if not result.duplicate:
                self._own.add(result.message_id)
        finally:
            self._submitting -= 1
            if not self._submitting:
                self._submitted.set()
        if visitor.contact_id is None:
            await visitors.link_contact(self.services, visitor.id, result.contact_id)
            self.visitor = dataclasses.replace(visitor, contact_id=result.contact_id)
        if result.conversation_id not in self.conversation_ids:
            self.conversation_ids.append(result.conversation_id)
            self.live.follow(self, result.conversation_id)
        return {
            "type": "ack",
            "client_id": client_id,
            "message_id": result.message_id,
            "conversation_id": result.conversation_id,
            "duplicate": result.duplicate,
        }

    async def _message(self, frame: SendMessage) -> None:
        self._typing = False
        self.send(await self.submit(frame.client_id, frame.text))

    async def _typing_frame(self, typing: bool) -> None:
        if not self.conversation_ids:
            return  # nothing to type into before the first message
        now = asyncio.get_running_loop().time()
        if typing and self._typing and now - self._typing_sent_at < TYPING_INTERVAL:
            return
        if not typing and not self._typing:
            return
        self._typing = typing
        self._typing_sent_at = now
        await signals.visitor_typing(self.services, self.conversation_ids[-1], typing)
