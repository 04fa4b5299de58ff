"""The end of a call: durations, outcome, the ``call`` timeline entry, the conversation resolved.

After an answered call the agent wraps up for their queue's ``wrap_up`` time
(docs/routing.md): the call stays ``wrap_up`` until then and ``end_wrap_ups`` (a
periodic worker) ends it. Routing sees the resolved conversation and counts it:
answered and handled, or abandoned when it never reached an agent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from hub import events as ev
from hub.calls import CallDirection, CallEvent, CallOutcome, CallState
from hub.crm_link.timeline import append_timeline
from hub.db.models import Call, Conversation, utcnow
from hub.inbox import actions
from hub.inbox.call_views import call_event
from hub.inbox.queueing import move_to_queue
from hub.routing.settings import RoutingSettings, parse_routing
from hub.services import Services, Unit


def routing_settings(services: Services) -> RoutingSettings:
    """The routing settings with the database's queue ids."""
    return parse_routing(services.settings).with_ids(services.queues)


def wrap_up_seconds(services: Services, queue_id: int | None) -> float:
    """The ``wrap_up`` time of the queue (0 without a queue)."""
    if queue_id is None:
        return 0.0
    return next((q.wrap_up for q in routing_settings(services).queues if q.id == queue_id), 0.0)


def derive_outcome(call: Call, previous: CallState | None) -> CallOutcome:
    """How a call ended when its source did not say: answered, else abandoned or missed."""
    if call.answered_at is not None:
        return CallOutcome.ANSWERED
    if call.direction == CallDirection.OUT.value:
        return CallOutcome.MISSED
    if previous in (CallState.IVR, CallState.QUEUED) or call.queued_at is not None:
        return CallOutcome.ABANDONED  # the caller gave up waiting for the hub's queue (or the menu)
    return CallOutcome.MISSED  # it rang at the PBX's choice of phone, and nobody took it


async def finish_call(
    unit: Unit, services: Services, call: Call, conversation: Conversation | None, event: CallEvent,
    at: datetime, now: datetime, agent_id: int | None, *, opened: bool = False,
) -> None:
    """End ``call`` at ``at``: outcome, wait and talk time, timeline entry, conversation resolved.

    ``opened``: the end is the first the hub hears of the call (nothing says it waited).
    """
    previous = None if opened else CallState(call.state)
    ended = max(at, call.started_at)
    if call.answered_at is None and event.answered_at is not None:
        # A single end-of-call report (a CDR) may carry the answer time.
        call.answered_at = min(max(event.answered_at, call.started_at), ended)
    if agent_id is not None and call.answered_at is not None:
        call.agent_id = agent_id
    call.ended_at = ended
    outcome = event.outcome or derive_outcome(call, previous)
    call.outcome = outcome.value
    call.end_reason = event.reason.value if event.reason is not None else None
    waited_from = call.queued_at or call.started_at
    call.wait_seconds = _seconds(waited_from, call.answered_at or ended)
    call.talk_seconds = _seconds(call.answered_at, ended) if call.answered_at is not None else 0
    # No wrap-up after a call the hub ended itself: the agent finished with it long ago.
    answered = outcome is CallOutcome.ANSWERED and event.reason is None
    wrap = wrap_up_seconds(services, call.queue_id) if answered else 0.0
    if wrap > 0 or event.state is CallState.WRAP_UP:
        call.state, call.wrap_up_until = CallState.WRAP_UP.value, now + timedelta(seconds=wrap)
    else:
        call.state = CallState.ENDED.value
    call.state_at, call.updated_at = max(ended, call.state_at), now
    if call.contact_id is not None:
        await append_timeline(
            unit.session, call.contact_id, "call", conversation_id=call.conversation_id, channel_id=call.channel_id,
            actor_user_id=call.agent_id, occurred_at=ended,
            data={
                "call_id": call.id, "direction": call.direction, "outcome": call.outcome,
                "duration_seconds": call.talk_seconds, "wait_seconds": call.wait_seconds,
                **({"reason": call.end_reason} if call.end_reason is not None else {}),
            },
        )
    if conversation is not None:
        if call.agent_id is not None and conversation.assignee_id is None and call.answered_at is not None:
            await actions.assign(services, None, conversation.id, call.agent_id, now=now, unit=unit,
                                 reason="call_answered")
        if conversation.queue_id is None and call.queue_id is not None:
            # A call the PBX routed files under its queue once it is over (routing ignores resolved ones).
            await move_to_queue(unit, None, conversation.id, call.queue_id, now=now, reason="call_ended")
        await _resolve(unit, conversation, now)


async def _resolve(unit: Unit, conversation: Conversation, now: datetime) -> None:
    """The hang-up resolves the call's conversation (routing: wrap-up, or abandoned)."""
    await unit.session.refresh(conversation)
    previous = conversation.status
    if previous == "resolved":
        return
    conversation.status, conversation.resolved_at, conversation.snoozed_until = "resolved", now, None
    conversation.waiting_since, conversation.updated_at = None, now
    unit.session.add(actions._timeline(conversation, "status_changed", None, now,
                                       data={"from": previous, "to": "resolved"}))
    await unit.session.flush()
    unit.emit(actions.conversation_event(
        ev.CONVERSATION_STATUS_CHANGED, conversation,
        {"previous": previous, "status": "resolved", "snoozed_until": None, "by_user_id": None}, now,
    ))


async def end_wrap_ups(services: Services, *, now: datetime | None = None) -> int:
    """End the calls whose wrap-up time is over; how many."""
    now = now or utcnow()
    names = {e.channel_id: e.name for e in services.endpoints.values()}
    async with services.transaction() as unit:
        due = list((await unit.session.scalars(
            select(Call).where(Call.state == CallState.WRAP_UP.value, Call.wrap_up_until <= now)
            .order_by(Call.id).with_for_update()
        )).all())
        for call in due:
            call.state, call.state_at, call.updated_at = CallState.ENDED.value, max(now, call.state_at), now
            unit.emit(call_event(ev.CALL_UPDATED, call, names.get(call.channel_id, ""), CallState.WRAP_UP, now))
    return len(due)


def _seconds(start: datetime | None, end: datetime) -> int:
    if start is None:
        return 0
    return max(0, round((end - start).total_seconds()))
