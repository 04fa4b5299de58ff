"""The agents' side of live chat: typing and read receipts, the visitor's details, the rating.

``PUT /typing`` and ``POST /read`` emit events the visitor's widget shows; the visitor's
own typing and reads arrive on ``/ws`` as events (docs/events.md). Visibility is the
conversation's: an id the agent may not see reads as 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import MAX_ID, id_path_param, path_id
from hub.api.spec import operation
from hub.auth.policy import ensure_conversation_visible
from hub.db.models import Conversation, ConversationRating, WebchatVisitor
from hub.errors import NotFound
from hub.webchat import signals

routes = web.RouteTableDef()


class TypingBody(msgspec.Struct, forbid_unknown_fields=True):
    """Whether the agent is typing a reply now (send ``false`` when they stop)."""

    typing: bool


class ReadBody(msgspec.Struct, forbid_unknown_fields=True):
    """The newest customer message id the agent has read."""

    up_to_message_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class ReadMark(msgspec.Struct):
    """The customer message up to which the conversation is read."""

    up_to_message_id: int


class Rating(msgspec.Struct):
    """The customer's satisfaction rating, 1 (bad) to 5 (excellent), given after resolution."""

    conversation_id: int
    score: int
    comment: str | None
    created_at: datetime


class WebchatVisitorView(msgspec.Struct):
    """A web chat visitor of the conversation: pre-chat answers, email, whether the site verified them."""

    name: str | None
    email: str | None
    email_verified: bool
    verified_user_id: str | None
    locale: str
    prechat: dict[str, Any]
    online: bool
    created_at: datetime
    last_seen_at: datetime


class WebchatDetails(msgspec.Struct):
    """The web chat side of a conversation."""

    conversation_id: int
    visitors: list[WebchatVisitorView]
    rating: Rating | None


async def _visible(request: web.Request) -> Conversation:
    principal = await authenticate(request)
    async with request.app[SERVICES].sessions() as session:
        conversation = await session.get(Conversation, path_id(request))
    return ensure_conversation_visible(principal, conversation)


@operation(
    "PUT",
    "/api/v1/conversations/{id}/typing",
    summary="Tell the customer's chat widget that the agent is (or stopped) typing",
    tag="conversations",
    request=TypingBody,
    status=204,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/typing")
async def put_typing(request: web.Request) -> web.Response:
    """204; emits ``conversation.typing`` (by agent)."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    body = await read_json(request, TypingBody)
    await signals.agent_typing(request.app[SERVICES], principal, conversation_id, body.typing)
    return web.Response(status=204)


@operation(
    "POST",
    "/api/v1/conversations/{id}/read",
    summary="Mark the customer's messages read up to an id (a read receipt for the chat widget)",
    tag="conversations",
    request=ReadBody,
    response=ReadMark,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.post("/api/v1/conversations/{id}/read")
async def post_read(request: web.Request) -> web.Response:
    """200 with the read mark; emits ``conversation.read`` (by agent)."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    body = await read_json(request, ReadBody)
    newest = await signals.agent_read(request.app[SERVICES], principal, conversation_id, body.up_to_message_id)
    return json_response(ReadMark(newest))


@operation(
    "GET",
    "/api/v1/conversations/{id}/rating",
    summary="The customer's satisfaction rating of the conversation",
    tag="conversations",
    response=Rating,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/conversations/{id}/rating")
async def get_rating(request: web.Request) -> web.Response:
    """200 with the rating; 404 when there is none (yet)."""
    conversation = await _visible(request)
    async with request.app[SERVICES].sessions() as session:
        rating = await _rating(session, conversation.id)
    if rating is None:
        raise NotFound("the conversation has not been rated")
    return json_response(rating)


async def _rating(session: AsyncSession, conversation_id: int) -> Rating | None:
    row = await session.get(ConversationRating, conversation_id)
    if row is None:
        return None
    return Rating(row.conversation_id, row.score, row.comment, row.created_at)


@operation(
    "GET",
    "/api/v1/conversations/{id}/webchat",
    summary="The web chat visitor(s) of the conversation: pre-chat answers, email, verification, rating",
    tag="conversations",
    response=WebchatDetails,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/conversations/{id}/webchat")
async def get_webchat(request: web.Request) -> web.Response:
    """200 with the visitor details; 404 for conversations of other channels."""
    conversation = await _visible(request)
    async with request.app[SERVICES].sessions() as session:
        rows = (
            await session.scalars(
                select(WebchatVisitor)
                .where(
                    WebchatVisitor.channel_id == conversation.channel_id,
                    WebchatVisitor.contact_id == conversation.contact_id,
                )
                .order_by(WebchatVisitor.last_seen_at.desc())
                .limit(20)
            )
        ).all()
        if not rows:
            raise NotFound("this conversation is not a web chat")
        rating = await _rating(session, conversation.id)
    views = [
        WebchatVisitorView(
            name=v.name,
            email=v.email,
            email_verified=v.email_verified,
            verified_user_id=v.user_id,
            locale=v.locale,
            prechat=dict(v.prechat),
            online=v.disconnected_at is None,
            created_at=v.created_at,
            last_seen_at=v.last_seen_at,
        )
        for v in rows
    ]
    return json_response(WebchatDetails(conversation.id, views, rating))
