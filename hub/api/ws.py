"""``GET /ws``: the websocket of live events for agents, supervisors and integrations.

Browsers authenticate with the session cookie and must come from the hub's own origin
(a page elsewhere cannot ride on the cookie: cross-site websocket hijacking); other
clients send ``Authorization: Bearer <token>``. Both are checked before the upgrade.
The protocol is described in docs/events.md; the stream itself in ``event_stream``, the
one bus subscription all streams of the process share in ``event_fanout``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from yarl import URL

from hub.api.event_fanout import AgentFanout
from hub.api.event_stream import EventStream
from hub.api.guard import PRINCIPAL_KEY, authenticate
from hub.api.keys import SERVICES
from hub.auth.principal import Principal
from hub.errors import BadRequest, Forbidden

HEARTBEAT_SECONDS = 25.0

WEBSOCKETS = web.AppKey("websockets", set[web.WebSocketResponse])
FANOUT = web.AppKey("ws_fanout", AgentFanout)

routes = web.RouteTableDef()

_CURSOR = re.compile(r"[0-9]{1,18}")


def setup(app: web.Application) -> None:
    """Register ``/ws``, its fan-out, and close every open socket when the app shuts down."""
    app[WEBSOCKETS] = set()
    app.cleanup_ctx.append(_fanout)
    app.on_shutdown.append(close_websockets)
    app.router.add_routes(routes)


async def _fanout(app: web.Application) -> AsyncIterator[None]:
    fanout = AgentFanout(app[SERVICES])
    await fanout.start()
    app[FANOUT] = fanout
    yield
    await fanout.aclose()


async def close_websockets(app: web.Application) -> None:
    """Close open sockets with 1001 (going away): clients reconnect to another instance."""
    sockets: set[web.WebSocketResponse] = app[WEBSOCKETS]
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in tuple(sockets)),
        return_exceptions=True,
    )


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    """Live events the caller may see; ``?cursor=<event id>`` first sends those after it."""
    principal = await authenticate(request)
    if principal.via == "session":
        check_origin(request)
    cursor = parse_cursor(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    if not ws.can_prepare(request).ok:
        raise BadRequest("GET /ws expects a websocket upgrade")
    services = request.app[SERVICES]
    sockets = request.app[WEBSOCKETS]

    async def reauthenticate() -> Principal:
        request.pop(PRINCIPAL_KEY, None)
        return await authenticate(request, fresh=True)

    try:
        await ws.prepare(request)
        sockets.add(ws)
        stream = EventStream(services, ws, request.app[FANOUT], principal, reauthenticate)
        sender = asyncio.create_task(stream.run(cursor), name=f"ws-user-{principal.user_id}")
        try:
            async for _ in ws:
                pass  # clients send nothing; reading answers pings and notices the close
        finally:
            if not stream.closing:
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    finally:
        sockets.discard(ws)
    return ws


def parse_cursor(request: web.Request) -> int | None:
    """The ``cursor`` query parameter: an event id, or None for live only."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    if not _CURSOR.fullmatch(raw):
        raise BadRequest("cursor must be an event id (a non-negative integer)")
    return int(raw)


def check_origin(request: web.Request) -> None:
    """403 unless a cookie-authenticated handshake comes from the hub's own origin.

    Browsers always send ``Origin`` on a websocket handshake; a client without one is not
    a browser, so no other site can be riding on its cookie.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    public = request.app[SERVICES].settings.public_url
    allowed = {_origin(URL(public)), _origin(request.url)}
    try:
        theirs = _origin(URL(origin))
    except ValueError:
        theirs = None
    if theirs is None or theirs not in allowed:
        raise Forbidden("websocket connections with the session cookie must come from the hub's own pages")


def _origin(url: URL) -> tuple[str, str, int | None] | None:
    if not url.scheme or not url.host:
        return None
    return (url.scheme.lower(), url.host.lower(), url.port)
