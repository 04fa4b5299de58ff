"""Inbound HTTP for channels: ``POST /api/v1/channels/{name}/messages``."""

from __future__ import annotations

from aiohttp import web

from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, INBOX
from hub.channels.base import InboundRequest
from hub.errors import BadRequest, NotFound
from hub.messages import InboundMessage

routes = web.RouteTableDef()


async def inbound_request(request: web.Request) -> InboundRequest:
    return InboundRequest(
        method=request.method,
        path=request.path_qs,
        query=dict(request.query),
        headers=request.headers,
        body=await request.read(),
        remote=request.remote,
    )


@routes.post("/api/v1/channels/{name}/messages")
async def post_channel_message(request: web.Request) -> web.Response:
    """API channel inbound: verify the channel token, parse, ingest; 202 once committed."""
    name = request.match_info["name"]
    adapter = request.app[ADAPTERS].get(name)
    if adapter is None or adapter.type != "api":
        raise NotFound(f"no API channel named {name!r}")
    raw = await inbound_request(request)
    adapter.verify(raw)
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json")
    items = adapter.parse_inbound(raw)
    inbox = request.app[INBOX]
    results = [await inbox.ingest(item) for item in items if isinstance(item, InboundMessage)]
    result = results[0]
    return json_response(
        {
            "message_id": result.message_id,
            "conversation_id": result.conversation_id,
            "duplicate": result.duplicate,
        },
        status=202,
    )
