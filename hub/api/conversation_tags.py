"""``PUT /api/v1/conversations/{id}/tags``: the exact list of a conversation's tags."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.crm_link.annotations import MAX_TAGS
from hub.inbox.tagging import set_conversation_tags

routes = web.RouteTableDef()


class TagsBody(msgspec.Struct, forbid_unknown_fields=True):
    """The tags the conversation should have (trimmed and lower-cased; no commas)."""

    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(max_length=MAX_TAGS)]


class TagList(msgspec.Struct):
    tags: list[str]


@operation(
    "PUT",
    "/api/v1/conversations/{id}/tags",
    summary="Set the conversation's tags (emits conversation.tags_changed when they change)",
    tag="conversations",
    request=TagsBody,
    response=TagList,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/tags")
async def put_tags(request: web.Request) -> web.Response:
    """200 with the tags, sorted."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    body = await read_json(request, TagsBody)
    tags = await set_conversation_tags(request.app[SERVICES], principal, conversation_id, body.tags)
    return json_response(TagList(tags))
