"""Reading conversations: the filtered list, one conversation with its messages, attachments.

Every query is limited by ``hub.auth.policy``: an id the caller may not see reads
as 404, and a filter never widens what the caller sees.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api import cursor
from hub.api.conversation_views import (
    STATUSES,
    ConversationDetail,
    ConversationPage,
    conversation_detail,
    conversation_summaries,
    summary_query,
)
from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.query import (
    ID_SCHEMA,
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_choice,
    query_int,
    query_limit,
    query_text,
    single,
    storable,
)
from hub.api.segments import segment_condition, segment_param
from hub.api.spec import Param, operation
from hub.auth.policy import can_see_conversation, conversation_scope, ensure_conversation_visible
from hub.auth.principal import Principal
from hub.db.fulltext import conversation_match
from hub.db.models import (
    Channel,
    Conversation,
    ConversationTag,
    Message,
    MessageAttachment,
    Queue,
    Tag,
)
from hub.errors import NotFound
from hub.inbox.queueing import MAX_PRIORITY

routes = web.RouteTableDef()

CURSOR_KIND = "conversations"
MAX_QUERY = 200
NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 100}

LIST_PARAMS = (
    Param("status", "query", {"type": "string", "enum": list(STATUSES)}, "conversation status"),
    Param("queue", "query", NAME_SCHEMA, "queue name"),
    Param(
        "assignee",
        "query",
        {"anyOf": [ID_SCHEMA, {"type": "string", "enum": ["me", "none"]}]},
        "a user id, `me` (the caller) or `none` (unassigned)",
    ),
    Param("channel", "query", NAME_SCHEMA, "channel name"),
    Param("contact", "query", ID_SCHEMA, "contact id"),
    Param("tag", "query", NAME_SCHEMA, "only conversations with this tag"),
    Param("priority_min", "query", {"type": "integer", "minimum": 0, "maximum": MAX_PRIORITY}, "only this priority or higher"),
    Param(
        "my_queues",
        "query",
        {"type": "string", "enum": ["true"]},
        "`true`: only conversations in the caller's own queues",
    ),
    Param(
        "q",
        "query",
        {"type": "string", "maxLength": MAX_QUERY},
        "words to find in the subject or in one message (full-text: every word, `\"a phrase\"` in quotes; "
        "the last word also as the beginning of a word unless a space follows it)",
    ),
    segment_param("conversations"),
    limit_param(),
    cursor_param(),
)


@operation(
    "GET",
    "/api/v1/conversations",
    summary="List the conversations the caller may see, newest activity first",
    tag="conversations",
    response=ConversationPage,
    params=LIST_PARAMS,
    errors=(400, 401, 404),  # 404: no such segment
)
@routes.get("/api/v1/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    """Conversations matching the filters, ordered by last message (newest first), one page."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    conditions = _filters(request, principal)
    in_segment = await segment_condition(request, Conversation.contact_id.expression)
    if in_segment is not None:
        conditions.append(in_segment)  # segments as inbox views (docs/crm.md)
    after = single(request, "cursor")
    async with services.sessions() as session:
        tag = await _tag_filter(session, request)
        if tag is not None:
            conditions.append(tag)
        stmt = summary_query().where(conversation_scope(principal), *conditions)
        if after is not None:
            at, last_id = cursor.time_and_id(services.settings.secret_key, CURSOR_KIND, after)
            stmt = stmt.where(
                or_(
                    Conversation.last_message_at < at,
                    and_(Conversation.last_message_at == at, Conversation.id < last_id),
                )
            )
        stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1)
        rows = (await session.execute(stmt)).all()
        items = await conversation_summaries(session, rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = cursor.encode_time_and_id(
            services.settings.secret_key, CURSOR_KIND, last.last_message_at, last.id
        )
    return json_response(ConversationPage(items=items, next=next_cursor))


def _filters(request: web.Request, principal: Principal) -> list[ColumnElement[bool]]:
    """WHERE clauses for the list filters; a name or id that exists nowhere matches nothing."""
    conditions: list[ColumnElement[bool]] = []
    status = query_choice(request, "status", STATUSES)
    if status is not None:
        conditions.append(Conversation.status == status)
    queue = query_text(request, "queue", min_length=1, max_length=100)
    if queue is not None:
        conditions.append(
            Conversation.queue_id.in_(select(Queue.id).where(Queue.name == queue)) if storable(queue) else false()
        )
    channel = query_text(request, "channel", min_length=1, max_length=100)
    if channel is not None:
        conditions.append(
            Conversation.channel_id.in_(select(Channel.id).where(Channel.name == channel))
            if storable(channel)
            else false()
        )
    assignee = single(request, "assignee")
    if assignee == "me":
        conditions.append(Conversation.assignee_id == principal.user_id)
    elif assignee == "none":
        conditions.append(Conversation.assignee_id.is_(None))
    elif assignee is not None:
        user_id = query_int(request, "assignee")
        conditions.append(Conversation.assignee_id == user_id)
    contact = query_int(request, "contact")
    if contact is not None:
        conditions.append(Conversation.contact_id == contact)
    priority_min = query_int(request, "priority_min", minimum=0, maximum=MAX_PRIORITY)
    if priority_min is not None:
        conditions.append(Conversation.priority >= priority_min)
    if query_choice(request, "my_queues", ("true",)) is not None:
        conditions.append(Conversation.queue_id.in_(sorted(principal.queue_ids)))
    text = query_text(request, "q", max_length=MAX_QUERY)
    if text and text.strip():
        dialect = request.app[SERVICES].dialect
        conditions.append(conversation_match(dialect, text.lstrip()) if storable(text) else false())
    return conditions


async def _tag_filter(session: AsyncSession, request: web.Request) -> ColumnElement[bool] | None:
    """The ``tag`` filter, with the tag's id looked up first.

    With the id as a literal the planner knows how common the tag is (its statistics per
    tag id) and starts from the tag's conversations when it is rare; with a join to the
    tag's name it assumes every tag equally common and walks the newest conversations
    (PostgreSQL: 67 ms p95 for a rare tag, bench/inbox_ui.py).
    """
    tag = query_text(request, "tag", min_length=1, max_length=100)
    if tag is None:
        return None
    if not storable(tag):
        return false()
    tag_id = await session.scalar(select(Tag.id).where(Tag.name == tag.strip().lower()))
    if tag_id is None:
        return false()
    return exists(
        select(ConversationTag.conversation_id).where(
            ConversationTag.conversation_id == Conversation.id, ConversationTag.tag_id == tag_id
        )
    )


@operation(
    "GET",
    "/api/v1/conversations/{id}",
    summary="A conversation with its messages (oldest first), contact, channel, queue and tags",
    tag="conversations",
    response=ConversationDetail,
    params=(id_path_param(description="conversation id"),),
    errors=(401, 404),
)
@routes.get("/api/v1/conversations/{id}")
async def get_conversation(request: web.Request) -> web.Response:
    """One conversation the caller may see, else 404."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    async with request.app[SERVICES].sessions() as session:
        ensure_conversation_visible(principal, await session.get(Conversation, conversation_id))
        detail = await conversation_detail(session, conversation_id)
    if detail is None:
        raise NotFound("no such conversation")
    return json_response(detail)


_SAFE_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


@operation(
    "GET",
    "/api/v1/attachments/{id}",
    summary="Download an attachment of a message the caller may see",
    tag="conversations",
    response=bytes,
    params=(id_path_param(description="attachment id"),),
    errors=(401, 404),
)
@routes.get("/api/v1/attachments/{id}")
async def get_attachment(request: web.Request) -> web.Response:
    """The attachment's bytes as a download, authorized through its conversation."""
    principal = await authenticate(request)
    attachment_id = path_id(request)
    services = request.app[SERVICES]
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(MessageAttachment, Conversation.queue_id, Conversation.assignee_id)
                .join(Message, Message.id == MessageAttachment.message_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(MessageAttachment.id == attachment_id)
            )
        ).first()
    if row is None or not can_see_conversation(principal, row[1], row[2]):
        raise NotFound("no such attachment")
    attachment = row[0]
    try:
        content = await services.blobs.get(attachment.blob_sha256)
    except FileNotFoundError:
        raise NotFound("the attachment's content is no longer stored") from None
    content_type = attachment.content_type if _SAFE_TYPE.match(attachment.content_type) else ""
    return web.Response(
        body=content,
        content_type=(content_type or "application/octet-stream").lower(),
        headers={
            "Content-Disposition": content_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 6266 / 8187."""
    fallback = _SAFE_NAME.sub("_", filename).strip() or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"

