"""A call row as the rest of the hub sees it (``hub.calls.CallView``), and its ``call.updated`` event."""

from __future__ import annotations

from datetime import datetime

from hub.calls import CallState, CallView
from hub.db.models import Call
from hub.events import Event


def view_of(call: Call, channel: str) -> CallView:
    """The view of a call row (``channel``: its channel's name)."""
    return CallView(
        id=call.id, channel=channel, provider_call_id=call.provider_call_id, conversation_id=call.conversation_id,
        contact_id=call.contact_id, direction=call.direction, from_number=call.from_number, to_number=call.to_number,
        state=call.state, state_at=call.state_at, queue_id=call.queue_id, agent_id=call.agent_id,
        started_at=call.started_at, queued_at=call.queued_at, answered_at=call.answered_at, ended_at=call.ended_at,
        wrap_up_until=call.wrap_up_until, wait_seconds=call.wait_seconds, talk_seconds=call.talk_seconds,
        outcome=call.outcome, end_reason=call.end_reason,
    )


def call_event(type_: str, call: Call, channel: str, previous: CallState | None, now: datetime) -> Event:
    """``call.updated``: scoped like the call's conversation (its queue, the call's agent)."""
    return Event(
        type_, conversation_id=call.conversation_id, contact_id=call.contact_id, queue_id=call.queue_id,
        user_id=call.agent_id, occurred_at=now,
        data={
            "call_id": call.id, "provider_call_id": call.provider_call_id, "channel": channel,
            "direction": call.direction, "state": call.state,
            "previous": previous.value if previous is not None else None,
            "queue_id": call.queue_id, "agent_id": call.agent_id, "outcome": call.outcome,
            "wait_seconds": call.wait_seconds, "talk_seconds": call.talk_seconds,
            **({"end_reason": call.end_reason} if call.end_reason is not None else {}),
        },
    )
