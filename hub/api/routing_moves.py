"""Supervisors move work: a conversation to another queue, or to another priority.

Both go through ``hub.inbox.queueing`` (event, timeline) in one transaction; the router
sees the event and routes the conversation in its new queue or order. Agents get 403.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api.conversation_actions import _summary
from hub.api.conversation_views import ConversationSummary
from hub.api.guard import require_role
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.auth.principal import Role
from hub.db.models import Queue, utcnow
from hub.errors import ValidationFailed
from hub.inbox import queueing

routes = web.RouteTableDef()


class QueueBody(msgspec.Struct, forbid_unknown_fields=True):
    """The queue to move the conversation to, by name."""

    queue: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class PriorityBody(msgspec.Struct, forbid_unknown_fields=True):
    """The new priority; higher is served first."""

    priority: Annotated[int, msgspec.Meta(ge=0, le=queueing.MAX_PRIORITY)]


@operation(
    "PUT", "/api/v1/conversations/{id}/queue", summary="Move the conversation to another queue (supervisors, admins)",
    tag="conversations", request=QueueBody, response=ConversationSummary,
    params=(id_path_param(description="conversation id"),), errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/queue")
async def put_queue(request: web.Request) -> web.Response:
    principal = await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    conversation_id = path_id(request)
    payload = await read_json(request, QueueBody)
    services = request.app[SERVICES]
    async with services.transaction() as unit:
        queue_id = await unit.session.scalar(select(Queue.id).where(Queue.name == payload.queue))
        if queue_id is None:
            raise ValidationFailed(f"there is no queue named {payload.queue!r}")
        await queueing.move_to_queue(unit, principal, conversation_id, queue_id, now=utcnow(), reason="moved_by_supervisor")
    return json_response(await _summary(services, conversation_id))


@operation(
    "PUT", "/api/v1/conversations/{id}/priority", summary="Set the conversation's priority (supervisors, admins)",
    tag="conversations", request=PriorityBody, response=ConversationSummary,
    params=(id_path_param(description="conversation id"),), errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/conversations/{id}/priority")
async def put_priority(request: web.Request) -> web.Response:
    principal = await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    conversation_id = path_id(request)
    payload = await read_json(request, PriorityBody)
    services = request.app[SERVICES]
    async with services.transaction() as unit:
        await queueing.set_priority(unit, principal, conversation_id, payload.priority, now=utcnow(),
                                    reason="set_by_supervisor")
    return json_response(await _summary(services, conversation_id))

