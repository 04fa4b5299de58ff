"""The contact's timeline over REST: every interaction, newest first, filterable by kind and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import false, select

from hub.api import cursor
from hub.api.contact_views import load_contact
from hub.api.conversation_views import UserRef
from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_limit,
    query_text,
    single,
    storable,
)
from hub.api.spec import Param, operation
from hub.db.models import Channel, TimelineEntry, User

routes = web.RouteTableDef()


class TimelineEntryView(msgspec.Struct):
    """One interaction on the contact's record; ``data`` holds ids and states, no content."""

    id: int
    kind: str
    occurred_at: datetime
    conversation_id: int | None
    message_id: int | None
    channel: str | None
    actor: UserRef | None
    data: dict[str, Any]


class TimelinePage(msgspec.Struct):
    items: list[TimelineEntryView]
    next: str | None


@operation(
    "GET",
    "/api/v1/contacts/{id}/timeline",
    summary="Every interaction with the contact, newest first",
    tag="contacts",
    response=TimelinePage,
    params=(
        id_path_param(description="contact id"),
        Param("kind", "query", {"type": "string", "maxLength": 40}, "only entries of this kind (docs/crm.md)"),
        Param("channel", "query", {"type": "string", "maxLength": 100}, "only entries on this channel (its name)"),
        Param("channel_type", "query", {"type": "string", "maxLength": 32}, "only entries on channels of this type"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/contacts/{id}/timeline")
async def get_timeline(request: web.Request) -> web.Response:
    """The contact's timeline entries, newest first, one page."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    after = single(request, "cursor")
    kind = query_text(request, "kind", max_length=40)
    channel_name = query_text(request, "channel", max_length=100)
    channel_type = query_text(request, "channel_type", max_length=32)
    await load_contact(services, principal, contact_id)
    stmt = (
        select(TimelineEntry, Channel.name, User.name)
        .outerjoin(Channel, Channel.id == TimelineEntry.channel_id)
        .outerjoin(User, User.id == TimelineEntry.actor_user_id)
        .where(TimelineEntry.contact_id == contact_id)
    )
    for column, wanted in ((TimelineEntry.kind, kind), (Channel.name, channel_name), (Channel.type, channel_type)):
        if wanted is not None:
            stmt = stmt.where(column == wanted if storable(wanted) else false())
    if after is not None:
        stmt = stmt.where(TimelineEntry.id < cursor.id_only(services.settings.secret_key, "timeline", after))
    stmt = stmt.order_by(TimelineEntry.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        rows = (await session.execute(stmt)).all()
    items = [
        TimelineEntryView(
            id=entry.id,
            kind=entry.kind,
            occurred_at=entry.occurred_at,
            conversation_id=entry.conversation_id,
            message_id=entry.message_id,
            channel=channel,
            actor=UserRef(entry.actor_user_id, actor or "") if entry.actor_user_id is not None else None,
            data=entry.data or {},
        )
        for entry, channel, actor in rows[:limit]
    ]
    next_cursor = cursor.next_by_id(services.settings.secret_key, "timeline", rows, limit, lambda r: r[0].id)
    return json_response(TimelinePage(items=items, next=next_cursor))

