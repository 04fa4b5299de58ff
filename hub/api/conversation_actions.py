"""Changing conversations: reply or note, assign, set status; the outbox's dead letters.

Thin handlers: authenticate, parse the body by raising, call the action in
``hub.inbox.actions`` (which checks visibility: another queue's id reads as 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import ColumnElement, select

from hub.api import cursor
from hub.api.conversation_views import (
    ConversationStatus,
    ConversationSummary,
    MessageView,
    UserRef,
    attachment_views,
    conversation_summaries,
    summary_query,
)
from hub.api.guard import authenticate, require_role
from hub.api.jsonio import json_response, read_json
from hub.api.keys import ADAPTERS, DISPATCHER, SERVICES
from hub.api.query import (
    MAX_ID,
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_choice,
    query_limit,
    single,
)
from hub.api.spec import Param, operation
from hub.auth.principal import Role
from hub.channels.api import ApiAttachment, decode_attachment
from hub.db.models import Channel, Conversation, Message, OutboxItem
from hub.errors import NotFound, ValidationFailed
from hub.inbox import actions, idempotency
from hub.inbox.actions import MAX_BODY_LENGTH, endpoint_by_id
from hub.inbox.attention import MAX_MENTIONS, mention
from hub.inbox.dead_letters import retry_dead
from hub.inbox.idempotency import StoredResponse
from hub.messages import Template
from hub.services import Services, Unit

routes = web.RouteTableDef()

OUTBOX_CURSOR = "outbox"
OUTBOX_STATES = ("dead", "pending")


class TemplateBody(msgspec.Struct, forbid_unknown_fields=True):
    """An approved template by name and language; ``parameters`` fill its placeholders in order."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_.-]+$")]
    language: Annotated[str, msgspec.Meta(min_length=2, max_length=20, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")]
    parameters: Annotated[list[Annotated[str, msgspec.Meta(max_length=1024)]], msgspec.Meta(max_length=50)] = []


class ReplyBody(msgspec.Struct, forbid_unknown_fields=True):
    """A reply through the conversation's channel, or (``private``) an internal note never sent.

    Give ``body``, ``attachments`` or (where the channel sends them) a ``template``;
    ``tag`` names a message tag that lets a reply out after the channel's reply window.
    ``mentions`` (notes only): user ids of colleagues to notify (``message.mentioned``).
    """

    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH)] = ""
    private: bool = False
    attachments: Annotated[list[ApiAttachment], msgspec.Meta(max_length=10)] = []
    template: TemplateBody | None = None
    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Z0-9_]+$")] | None = None
    mentions: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]], msgspec.Meta(max_length=MAX_MENTIONS)] = []


class AssigneeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The new assignee's user id, or null to unassign."""

    agent_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None


class StatusBody(msgspec.Struct, forbid_unknown_fields=True):
    """The new status; ``until`` (with a time-zone offset) is required for, and only for, snoozed."""

    status: ConversationStatus
    until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class OutboxEntry(msgspec.Struct):
    """A reply in the outbox: ``pending`` (due at ``next_attempt_at``), ``done`` or ``dead``."""

    id: int
    message_id: int
    conversation_id: int
    channel: str
    state: Literal["pending", "done", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    message_status: str
    created_at: datetime
    updated_at: datetime


class OutboxPage(msgspec.Struct):
    """One page of outbox entries, newest first; pass ``next`` as ``cursor`` for the next page."""

    items: list[OutboxEntry]
    next: str | None


IDEMPOTENCY_PARAM = Param(
    idempotency.HEADER,
    "header",
    {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
    "a client-chosen key; a repeated request with it returns the first answer and sends nothing twice",
)


@operation(
    "POST",
    "/api/v1/conversations/{id}/messages",
    summary="Reply through the conversation's channel, or write a private note",
    tag="conversations",
    request=ReplyBody,
    response=MessageView,
    status=201,
    params=(id_path_param(description="conversation id"), IDEMPOTENCY_PARAM),
    errors=(400, 401, 403, 404, 409, 413, 422),
)
@routes.post("/api/v1/conversations/{id}/messages")
async def post_message(request: web.Request) -> web.Response:
    """201 with the stored message; a reply is queued for sending (or sent, when delivered live),
    a note never leaves the hub."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    payload = await read_json(request, ReplyBody)
    services = request.app[SERVICES]
    adapters = request.app[ADAPTERS]

    limit = services.settings.max_attachment_bytes
    attachments = [decode_attachment(item, limit) for item in payload.attachments]
    if payload.mentions and not payload.private:
        raise ValidationFailed("mentions are for internal notes (private: true)")
    template = (
        Template(payload.template.name, payload.template.language, tuple(payload.template.parameters))
        if payload.template is not None
        else None
    )

    queued = False

    async def perform(unit: Unit) -> StoredResponse:
        nonlocal queued
        message = await actions.reply(
            services, principal, conversation_id, payload.body,
            private=payload.private, adapters=adapters, unit=unit,
            attachments=attachments, template=template, tag=payload.tag,
        )
        queued = message.status == "queued"
        if payload.mentions:
            conversation = await unit.session.get(Conversation, conversation_id)
            assert conversation is not None  # reply() loaded and checked it in this transaction
            await mention(unit, principal, conversation, message.id, payload.mentions)
        # A reply without files has none to list: no query (this runs for every chat reply).
        stored = await attachment_views(unit.session, [message.id]) if attachments else {}
        view = MessageView(
            id=message.id,
            direction="out",
            private=message.private,
            author=UserRef(principal.user_id, principal.name),
            text=message.text,
            html=message.html,
            subject=message.subject,
            status=message.status,
            error=message.error,
            created_at=message.created_at,
            sent_at=message.sent_at,
            attachments=stored.get(message.id, []),
            channel=message_channel(request, message.channel_id),
        )
        return StoredResponse(201, msgspec.json.encode(view))

    fingerprint = idempotency.fingerprint(request.method, request.path, msgspec.json.encode(payload))
    result = await idempotency.run_idempotent(services, principal.user_id, key, fingerprint, perform)
    if queued:  # committed with an outbox row (not a note, not delivered live, not a replay)
        request.app[DISPATCHER].wake()
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return web.Response(body=result.body, status=result.status, content_type="application/json", headers=headers)


@operation(
    "PUT",
    "/api/v1/conversations/{id}/assignee",
    summary="Assign the conversation (agents: to themselves) or unassign it",
    tag="conversations",
    request=AssigneeBody,
    response=ConversationSummary,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 409, 422),
)
@routes.put("/api/v1/conversations/{id}/assignee")
async def put_assignee(request: web.Request) -> web.Response:
    """200 with the conversation after the change."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    payload = await read_json(request, AssigneeBody)
    services = request.app[SERVICES]
    await actions.assign(services, principal, conversation_id, payload.agent_id)
    return json_response(await _summary(services, conversation_id))


@operation(
    "PUT",
    "/api/v1/conversations/{id}/status",
    summary="Set the status: open, pending, snoozed (until a time) or resolved",
    tag="conversations",
    request=StatusBody,
    response=ConversationSummary,
    params=(id_path_param(description="conversation id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/status")
async def put_status(request: web.Request) -> web.Response:
    """200 with the conversation after the change."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    payload = await read_json(request, StatusBody)
    services = request.app[SERVICES]
    await actions.set_status(services, principal, conversation_id, payload.status, payload.until)
    return json_response(await _summary(services, conversation_id))


def message_channel(request: web.Request, channel_id: int) -> str | None:
    endpoint = endpoint_by_id(request.app[SERVICES], channel_id)
    return endpoint.name if endpoint is not None else None


async def _summary(services: Services, conversation_id: int) -> ConversationSummary:
    async with services.sessions() as session:
        row = (await session.execute(summary_query().where(Conversation.id == conversation_id))).first()
        if row is None:
            raise NotFound("no such conversation")
        (summary,) = await conversation_summaries(session, [row])
    return summary


async def _entries(services: Services, *conditions: ColumnElement[bool], limit: int) -> list[OutboxEntry]:
    """Outbox entries matching ``conditions``, newest first."""
    stmt = (
        select(OutboxItem, Message.conversation_id, Message.status, Channel.name)
        .join(Message, Message.id == OutboxItem.message_id)
        .join(Channel, Channel.id == OutboxItem.channel_id)
        .where(*conditions)
        .order_by(OutboxItem.id.desc())
        .limit(limit)
    )
    async with services.sessions() as session:
        rows = (await session.execute(stmt)).all()
    return [_entry(outbox, conversation_id, status, channel) for outbox, conversation_id, status, channel in rows]


def _entry(outbox: OutboxItem, conversation_id: int, message_status: str, channel: str) -> OutboxEntry:
    state: Literal["pending", "done", "dead"] = (
        "dead" if outbox.state == "dead" else "done" if outbox.state == "done" else "pending"
    )
    return OutboxEntry(
        id=outbox.id,
        message_id=outbox.message_id,
        conversation_id=conversation_id,
        channel=channel,
        state=state,
        attempts=outbox.attempts,
        next_attempt_at=outbox.next_attempt_at,
        last_error=outbox.last_error,
        message_status=message_status,
        created_at=outbox.created_at,
        updated_at=outbox.updated_at,
    )


@operation(
    "GET",
    "/api/v1/outbox",
    summary="Outbox entries by state (default: dead letters), newest first (supervisors, admins)",
    tag="outbox",
    response=OutboxPage,
    params=(
        Param("state", "query", {"type": "string", "enum": list(OUTBOX_STATES)}, "dead (default) or pending"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401, 403),
)
@routes.get("/api/v1/outbox")
async def list_outbox(request: web.Request) -> web.Response:
    """One page of the outbox entries in ``state``."""
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    state = query_choice(request, "state", OUTBOX_STATES) or "dead"
    limit = query_limit(request)
    conditions = [OutboxItem.state == state]
    after = single(request, "cursor")
    if after is not None:
        conditions.append(OutboxItem.id < cursor.id_only(services.settings.secret_key, OUTBOX_CURSOR, after))
    found = await _entries(services, *conditions, limit=limit + 1)
    items = found[:limit]
    next_cursor = cursor.next_by_id(services.settings.secret_key, OUTBOX_CURSOR, found, limit, lambda e: e.id)
    return json_response(OutboxPage(items=items, next=next_cursor))


@operation(
    "POST",
    "/api/v1/outbox/{id}/retry",
    summary="Send a dead letter again (supervisors, admins)",
    tag="outbox",
    response=OutboxEntry,
    params=(id_path_param(description="outbox entry id"),),
    errors=(401, 403, 404, 409),
)
@routes.post("/api/v1/outbox/{id}/retry")
async def post_outbox_retry(request: web.Request) -> web.Response:
    """200 with the entry, pending again; its message is queued."""
    principal = await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    outbox_id = path_id(request)
    services = request.app[SERVICES]
    await retry_dead(services, principal, outbox_id)
    request.app[DISPATCHER].wake()
    (entry,) = await _entries(services, OutboxItem.id == outbox_id, limit=1)
    return json_response(entry)
