"""Reading calls: the live call list, one call, the call of a conversation, recordings (docs/calls.md).

Every query is limited by ``hub.auth.policy.call_scope``: a call the caller may not
see reads as 404 and never appears in a list. A recording is the conversation's
content: only who may see the call's conversation hears it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import msgspec
from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api import cursor
from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_choice,
    query_limit,
    single,
)
from hub.api.spec import Param, operation
from hub.auth.policy import call_scope, can_see_conversation, ensure_conversation_visible
from hub.calls import CallState
from hub.db.models import Call, CallRecording, Channel, Conversation, Queue
from hub.errors import NotFound

routes = web.RouteTableDef()

CURSOR_KIND = "calls"
STATES = tuple(s.value for s in CallState)


class RecordingOut(msgspec.Struct):
    id: int
    content_type: str
    size: int
    duration_seconds: int | None
    url: str = ""  # the audio, for those who may see the call's conversation


class CallOut(msgspec.Struct):
    """A call: live state, parties, times and, once over, durations and outcome."""

    id: int
    channel: str
    provider_call_id: str
    conversation_id: int | None
    contact_id: int | None
    direction: str
    from_number: str | None
    to_number: str | None
    state: str
    state_since: datetime
    queue: str | None
    queue_id: int | None
    agent_id: int | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wrap_up_until: datetime | None
    wait_seconds: int | None
    talk_seconds: int | None
    outcome: str | None
    end_reason: str | None = None  # "stale": the hub ended it, its source never reported the end
    recordings: list[RecordingOut] = []


class CallPage(msgspec.Struct):
    items: list[CallOut]
    next: str | None


Row = tuple[Call, str, str | None]


def _query() -> Select[Call, str, str | None]:
    return (
        select(Call, Channel.name, Queue.name)
        .join(Channel, Channel.id == Call.channel_id)
        .outerjoin(Queue, Queue.id == Call.queue_id)
    )


async def _views(session: AsyncSession, rows: Sequence[Row]) -> list[CallOut]:
    ids = [call.id for call, _, _ in rows]
    recordings: dict[int, list[RecordingOut]] = {}
    if ids:
        found = await session.scalars(
            select(CallRecording).where(CallRecording.call_id.in_(ids)).order_by(CallRecording.id)
        )
        for r in found:
            recordings.setdefault(r.call_id, []).append(RecordingOut(
                r.id, r.content_type, r.size, r.duration_seconds, f"/api/v1/calls/{r.call_id}/recordings/{r.id}",
            ))
    return [
        CallOut(
            id=call.id, channel=channel, provider_call_id=call.provider_call_id,
            conversation_id=call.conversation_id, contact_id=call.contact_id, direction=call.direction,
            from_number=call.from_number, to_number=call.to_number, state=call.state, state_since=call.state_at,
            queue=queue, queue_id=call.queue_id, agent_id=call.agent_id, started_at=call.started_at,
            queued_at=call.queued_at, answered_at=call.answered_at, ended_at=call.ended_at,
            wrap_up_until=call.wrap_up_until, wait_seconds=call.wait_seconds, talk_seconds=call.talk_seconds,
            outcome=call.outcome, end_reason=call.end_reason, recordings=recordings.get(call.id, []),
        )
        for call, channel, queue in rows
    ]


@operation(
    "GET", "/api/v1/calls", summary="Calls the caller may see: live ones unless a state is asked for",
    tag="calls", response=CallPage,
    params=(
        Param("state", "query", {"type": "string", "enum": list(STATES)}, "only calls in this state"),
        Param("queue", "query", {"type": "string", "minLength": 1, "maxLength": 100}, "queue name"),
        limit_param(), cursor_param(),
    ),
    errors=(400, 401),
)
@routes.get("/api/v1/calls")
async def list_calls(request: web.Request) -> web.Response:
    """Newest first; without ``state`` every call that is not over (ivr to wrap-up)."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    state = query_choice(request, "state", STATES)
    stmt = _query().where(call_scope(principal))
    if state is None:
        stmt = stmt.where(Call.state != CallState.ENDED.value)
    else:
        stmt = stmt.where(Call.state == state)
    queue = single(request, "queue")
    if queue is not None:
        stmt = stmt.where(Call.queue_id == services.queues.get(queue, 0))
    after = single(request, "cursor")
    if after is not None:
        stmt = stmt.where(Call.id < cursor.id_only(services.settings.secret_key, CURSOR_KIND, after))
    async with services.sessions() as session:
        rows: list[Row] = [(c, ch, q) for c, ch, q in await session.execute(stmt.order_by(Call.id.desc()).limit(limit + 1))]
        items = await _views(session, rows[:limit])
    next_cursor = cursor.next_by_id(services.settings.secret_key, CURSOR_KIND, rows, limit, lambda r: r[0].id)
    return json_response(CallPage(items=items, next=next_cursor))


@operation(
    "GET", "/api/v1/calls/{id}", summary="One call", tag="calls", response=CallOut,
    params=(id_path_param(description="call id"),), errors=(400, 401, 404),
)
@routes.get("/api/v1/calls/{id}")
async def get_call(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    call_id = path_id(request)
    async with request.app[SERVICES].sessions() as session:
        row = (await session.execute(_query().where(Call.id == call_id, call_scope(principal)))).first()
        if row is None:
            raise NotFound("no such call")
        (item,) = await _views(session, [(row[0], row[1], row[2])])
    return json_response(item)


@operation(
    "GET", "/api/v1/conversations/{id}/call", summary="The call of a voice conversation (its latest)",
    tag="calls", response=CallOut, params=(id_path_param(description="conversation id"),), errors=(400, 401, 404),
)
@routes.get("/api/v1/conversations/{id}/call")
async def conversation_call(request: web.Request) -> web.Response:
    """404 when the conversation is not the caller's to see, or has no call."""
    principal = await authenticate(request)
    conversation_id = path_id(request)
    async with request.app[SERVICES].sessions() as session:
        ensure_conversation_visible(principal, await session.get(Conversation, conversation_id))
        row = (await session.execute(
            _query().where(Call.conversation_id == conversation_id).order_by(Call.id.desc()).limit(1)
        )).first()
        if row is None:
            raise NotFound("this conversation has no call")
        (item,) = await _views(session, [(row[0], row[1], row[2])])
    return json_response(item)


_AUDIO_TYPE = re.compile(r"^audio/[A-Za-z0-9!#$&^_.+-]{1,64}$")


@operation(
    "GET", "/api/v1/calls/{id}/recordings/{recording_id}",
    summary="A call's recording (audio; byte ranges for seeking), for who may see its conversation",
    tag="calls", response=bytes,
    params=(id_path_param(description="call id"), id_path_param("recording_id", "recording id")),
    errors=(401, 404),
)
@routes.get("/api/v1/calls/{id}/recordings/{recording_id}")
async def get_recording(request: web.Request) -> web.StreamResponse:
    """The audio with its type; 404 unless the caller may see the call's conversation."""
    principal = await authenticate(request)
    call_id, recording_id = path_id(request), path_id(request, "recording_id")
    services = request.app[SERVICES]
    async with services.sessions() as session:
        row = (await session.execute(
            select(CallRecording, Conversation.queue_id, Conversation.assignee_id)
            .join(Call, Call.id == CallRecording.call_id)
            .join(Conversation, Conversation.id == Call.conversation_id)
            .where(CallRecording.id == recording_id, CallRecording.call_id == call_id)
        )).first()
    if row is None or not can_see_conversation(principal, row[1], row[2]):
        raise NotFound("no such recording")
    recording: CallRecording = row[0]
    path = services.blobs.path_for(recording.blob_sha256)
    if not path.is_file():
        raise NotFound("the recording's audio is no longer stored")
    content_type = recording.content_type.lower() if _AUDIO_TYPE.match(recording.content_type) else ""
    # FileResponse answers Range requests (206), so a player can seek without loading it all.
    return web.FileResponse(path, headers={
        "Content-Type": content_type or "application/octet-stream",
        "Content-Disposition": f'inline; filename="call-{call_id}-recording-{recording_id}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })
