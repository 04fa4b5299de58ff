"""``GET /widget/{channel}/ws``: the visitor's websocket.

The origin allowlist is checked before the upgrade (``hub.api.widget``'s middleware).
The first frame must be ``{"type": "hello", "token": ...}``; then the server sends
``ready`` with the visitor's history and continues live. The protocol is in
docs/channels/webchat.md.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from aiohttp import WSMsgType, web

from hub.api.keys import INBOX, SERVICES
from hub.api.widget_shared import LIVE, WIDGET_LIMITS, webchat_adapter
from hub.api.ws import WEBSOCKETS
from hub.channels.webchat.adapter import WebchatChannel
from hub.channels.webchat.protocol import decode_frame, decode_hello
from hub.db.models import utcnow
from hub.errors import BadRequest, HubError
from hub.services import Services
from hub.webchat import history, visitors
from hub.webchat.connection import VisitorConnection
from hub.webchat.visitors import Visitor

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0
HELLO_TIMEOUT_SECONDS = 10.0
MAX_FRAME_BYTES = 64 * 1024
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_HELLO = 4400
CLOSE_TOO_MANY_FRAMES = 4429
FRAMES_PER_MINUTE = 120  # typing, read receipts and messages together; a widget sends far fewer

routes = web.RouteTableDef()
_encoder = msgspec.json.Encoder()


async def visitor_conversations(services: Services, adapter: WebchatChannel, visitor: Visitor) -> list[int]:
    """The conversations the visitor may read: their contact's on this channel.

    A verified user is found by their user id (so a new device sees the history of the
    others), an anonymous visitor by their browser's key. A merely typed-in email never counts.
    """
    for identity in adapter.visitor_identities(visitor.key, visitor.user_id, None):
        contact_id = await visitors.contact_of(services, identity)
        if contact_id is not None:
            return await visitors.conversations_of(services, visitor.channel_id, contact_id)
    return []


def detached_connection(
    request: web.Request, adapter: WebchatChannel, visitor: Visitor, conversation_ids: list[int]
) -> VisitorConnection:
    """A connection without a socket, for visitor actions over plain HTTP (file uploads)."""
    app = request.config_dict
    return VisitorConnection(
        app[SERVICES], adapter, visitor, _NoSocket(), app[LIVE], app[WIDGET_LIMITS], app[INBOX].ingest, conversation_ids
    )


class _NoSocket:
    async def send_str(self, data: str) -> None:
        return None


@routes.get("/{channel}/ws")
async def visitor_socket(request: web.Request) -> web.StreamResponse:
    """The visitor's live chat: history first, then messages, typing and read receipts both ways."""
    adapter = webchat_adapter(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_FRAME_BYTES)
    if not ws.can_prepare(request).ok:
        raise BadRequest("expects a websocket upgrade")
    app = request.config_dict
    services = app[SERVICES]
    await ws.prepare(request)
    sockets = app[WEBSOCKETS]
    sockets.add(ws)
    try:
        visitor = await _hello(ws, adapter, services)
        if visitor is not None:
            await _serve(request, ws, adapter, visitor)
    finally:
        sockets.discard(ws)
    return ws


async def _hello(ws: web.WebSocketResponse, adapter: WebchatChannel, services: Services) -> Visitor | None:
    try:
        async with asyncio.timeout(HELLO_TIMEOUT_SECONDS):
            msg = await ws.receive()
    except TimeoutError:
        await ws.close(code=CLOSE_BAD_HELLO, message=b"no hello")
        return None
    if msg.type is not WSMsgType.TEXT:
        await ws.close(code=CLOSE_BAD_HELLO, message=b"expected a hello frame")
        return None
    try:
        hello = decode_hello(msg.data)
        key = adapter.visitor_key(hello.token)
        return await visitors.load_visitor(services, services.endpoint(adapter.name).channel_id, key)
    except HubError as exc:
        await ws.send_str(_encoder.encode({"type": "error", "status": exc.status, "title": exc.title,
                                           "detail": exc.detail}).decode())
        await ws.close(code=CLOSE_UNAUTHORIZED if exc.status == 401 else CLOSE_BAD_HELLO, message=b"refused")
        return None


async def _serve(request: web.Request, ws: web.WebSocketResponse, adapter: WebchatChannel, visitor: Visitor) -> None:
    app = request.config_dict
    services = app[SERVICES]
    live = app[LIVE]
    conversation_ids = await visitor_conversations(services, adapter, visitor)
    connection = VisitorConnection(
        services, adapter, visitor, ws, live, app[WIDGET_LIMITS], app[INBOX].ingest, conversation_ids
    )
    first = live.open(connection, visitor.id, set(conversation_ids))
    sender: asyncio.Task[None] | None = None
    try:
        if first:
            await visitors.mark_connected(services, visitor.id, connected=True)
        async with services.sessions() as session:
            messages = await history.message_views(session, conversation_ids)
            states = await history.conversation_states(session, conversation_ids)
        ready = {
            "type": "ready",
            "visitor": {"name": visitor.name, "email": visitor.email, "verified": visitor.user_id is not None,
                        "locale": visitor.locale},
            "online": adapter.is_open(utcnow()),
            "messages": messages,
            "conversations": states,
            "agent_read_up_to": visitor.agent_read_up_to,
        }
        connection.last_message_id = max((m["id"] for m in messages), default=0)
        await ws.send_str(_encoder.encode(ready).decode())
        sender = asyncio.create_task(connection.run_sender(), name=f"webchat-visitor-{visitor.id}")
        loop = asyncio.get_running_loop()
        window_start, frames = loop.time(), 0
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            now = loop.time()
            if now - window_start >= 60:
                window_start, frames = now, 0
            frames += 1
            if frames > FRAMES_PER_MINUTE:
                await ws.close(code=CLOSE_TOO_MANY_FRAMES, message=b"too many frames")
                break
            try:
                frame = decode_frame(msg.data)
            except HubError as exc:
                connection.send_error(exc)
                continue
            await connection.handle(frame)
    except ConnectionResetError:
        pass
    finally:
        # Unregistered before the first await: a cancelled handler must not leave the widget
        # looking open (replies would count as delivered live, and no offline email would go).
        gone = live.close(connection, visitor.id)
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        if gone:
            await asyncio.shield(visitors.mark_connected(services, visitor.id, connected=False))
