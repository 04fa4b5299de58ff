"""Routing's changes to a conversation: move it to another queue, change its priority.

Like every action, each runs in a transaction (the caller's ``unit``), records the
timeline and emits its event. ``principal`` None is the hub itself (routing rules,
escalation); a supervisor or admin may call them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub import events as ev
from hub.auth.principal import Principal
from hub.db.models import Conversation, Queue
from hub.errors import Forbidden, ValidationFailed
from hub.inbox.actions import _timeline, conversation_event, load_conversation
from hub.services import Unit

MAX_PRIORITY = 1000


async def move_to_queue(
    unit: Unit, principal: Principal | None, conversation_id: int, queue_id: int, *, now: datetime, reason: str
) -> Conversation:
    """Put the conversation into ``queue_id``; emits ``conversation.queue_changed``."""
    conversation = await _load(unit, principal, conversation_id)
    if await unit.session.get(Queue, queue_id) is None:
        raise ValidationFailed(f"there is no queue with id {queue_id}")
    previous = conversation.queue_id
    if previous != queue_id:
        conversation.queue_id = queue_id
        await _record(unit, principal, conversation, ev.CONVERSATION_QUEUE_CHANGED, "queue_changed", now,
                      {"previous_queue_id": previous, "queue_id": queue_id, "reason": reason})
    return conversation


async def set_priority(
    unit: Unit, principal: Principal | None, conversation_id: int, priority: int, *, now: datetime, reason: str
) -> Conversation:
    """Set the priority (0-1000, higher is served first); emits ``conversation.priority_changed``."""
    if not 0 <= priority <= MAX_PRIORITY:
        raise ValidationFailed(f"priority must be between 0 and {MAX_PRIORITY}")
    conversation = await _load(unit, principal, conversation_id)
    previous = conversation.priority
    if previous != priority:
        conversation.priority = priority
        await _record(unit, principal, conversation, ev.CONVERSATION_PRIORITY_CHANGED, "priority_changed", now,
                      {"previous": previous, "priority": priority, "reason": reason})
    return conversation


async def _load(unit: Unit, principal: Principal | None, conversation_id: int) -> Conversation:
    if principal is not None and not principal.sees_everything:
        raise Forbidden("only supervisors and admins move conversations between queues or change priorities")
    return await load_conversation(unit.session, principal, conversation_id)


async def _record(
    unit: Unit, principal: Principal | None, conversation: Conversation, event_type: str, kind: str,
    now: datetime, data: dict[str, Any],
) -> None:
    conversation.updated_at = now
    unit.session.add(_timeline(conversation, kind, principal, now, data=data))
    await unit.session.flush()
    by = principal.user_id if principal is not None else None
    unit.emit(conversation_event(event_type, conversation, {**data, "by_user_id": by}, now))
