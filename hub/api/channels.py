"""Inbound HTTP for channels: ``POST /api/v1/channels/{name}/messages``."""

from __future__ import annotations

import msgspec
from aiohttp import web

from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, INBOX
from hub.api.spec import Param, operation
from hub.channels.api import ApiInboundBody
from hub.channels.base import InboundRequest
from hub.errors import BadRequest, NotFound
from hub.messages import InboundMessage

routes = web.RouteTableDef()


class IngestAccepted(msgspec.Struct):
    message_id: int
    conversation_id: int
    duplicate: bool


async def inbound_request(request: web.Request) -> InboundRequest:
    return InboundRequest(
        method=request.method,
        path=request.path_qs,
        query=dict(request.query),
        headers=request.headers,
        body=await request.read(),
        remote=request.remote,
    )


@operation(
    "POST",
    "/api/v1/channels/{name}/messages",
    summary="Push a customer message into an API channel",
    tag="channels",
    request=ApiInboundBody,
    response=IngestAccepted,
    status=202,
    auth="channel",
    params=(Param("name", "path", {"type": "string"}, "the channel's name", required=True),),
    errors=(400, 401, 404, 413, 422),
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
    accepted = IngestAccepted(result.message_id, result.conversation_id, result.duplicate)
    return json_response(accepted, status=202)
