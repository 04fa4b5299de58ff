"""``PUT /api/v1/conversations/{id}/viewing``: an agent has the conversation open (or left it).

The UI sends it when a conversation is opened and closed, and again every minute
while it stays open, so colleagues are warned (docs/ui.md).
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.inbox.attention import viewing

routes = web.RouteTableDef()


class ViewingBody(msgspec.Struct, forbid_unknown_fields=True):
    """Whether the agent has the conversation open now."""

    viewing: bool


@operation(
    "PUT",
    "/api/v1/conversations/{id}/viewing",
    summary="Tell colleagues you have the conversation open (emits conversation.viewing)",
    tag="conversations",
    request=ViewingBody,
    status=204,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/viewing")
async def put_viewing(request: web.Request) -> web.Response:
    """204."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    body = await read_json(request, ViewingBody)
    await viewing(request.app[SERVICES], principal, conversation_id, body.viewing)
    return web.Response(status=204)
