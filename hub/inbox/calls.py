"""Calls: what telephony sources report becomes a call, its conversation, timeline and events.

``record_call_event`` is the one entry for every source (a PBX over the CTI API, a
voice provider's callbacks). In one transaction it finds the call by (channel,
provider call id) or opens it — the customer's contact found by their phone identity
or created, a new conversation of the voice channel — then moves it to the reported
state if ``hub.calls.may_move`` allows, and emits ``call.updated``:

- ``queued``: the conversation enters the queue, so routing offers it to an agent;
- ``ringing``: an agent's phone rings (routing offered it, or the PBX rings them);
- ``talking``: the agent took the call: their pending offer is accepted (or the
  conversation assigned to them), and ``call.screen_pop`` tells them who is calling;
- ``ended`` (or ``wrap_up``): ``hub.inbox.call_finish`` computes the durations, writes
  the ``call`` timeline entry and resolves the conversation (routing counts a call
  that never reached an agent as abandoned).

A report the state machine refuses (late, repeated) changes nothing, so a source's
retry is harmless. Events carry ids and states only (docs/events.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from hub import events as ev
from hub.calls import (
    CallDirection,
    CallEvent,
    CallResult,
    CallState,
    CallView,
    call_thread_key,
    may_move,
)
from hub.db.models import (
    Call,
    Contact,
    ContactIdentity,
    Conversation,
    RoutingOffer,
    ThreadKey,
    User,
    utcnow,
)
from hub.errors import ValidationFailed
from hub.events import Event
from hub.inbox import actions
from hub.inbox.call_finish import finish_call, routing_settings
from hub.inbox.call_views import call_event, view_of
from hub.inbox.queueing import move_to_queue
from hub.messages import Identity
from hub.services import Endpoint, Services, Unit

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 3


async def record_call_event(services: Services, event: CallEvent, *, now: datetime | None = None) -> CallResult:
    """Store what a telephony source reports about a call (see the module doc); once committed."""
    for attempt in range(MAX_CONFLICT_RETRIES):
        try:
            async with services.transaction() as unit:
                return await apply_call_event(unit, services, event, now=now or utcnow())
        except (IntegrityError, OperationalError, CallChanged) as exc:
            # Another writer opened the same call or contact first (another hub process, an
            # SMS from the same number): the next attempt finds its rows.
            if attempt == MAX_CONFLICT_RETRIES - 1 or not _retryable(exc):
                raise
            log.info("call report conflicted with another writer, retrying (attempt %d)", attempt + 1)
    raise AssertionError("unreachable")


async def find_call(services: Services, channel: str, provider_call_id: str) -> CallView | None:
    """The call ``provider_call_id`` of ``channel``, or None."""
    endpoint = services.endpoint(channel)
    async with services.sessions() as session:
        call = await session.scalar(
            select(Call).where(Call.channel_id == endpoint.channel_id, Call.provider_call_id == provider_call_id)
        )
        return view_of(call, endpoint.name) if call is not None else None


async def apply_call_event(unit: Unit, services: Services, event: CallEvent, *, now: datetime) -> CallResult:
    """``record_call_event`` inside the caller's transaction."""
    session = unit.session
    endpoint = services.endpoint(event.channel)
    at = event.occurred_at or now
    if at.tzinfo is None:
        raise ValidationFailed("call times need a time-zone offset")
    agent_id = await _agent_id(unit, event.agent)
    queue_id = _queue_id(services, event.queue)
    call = await session.scalar(
        select(Call)
        .where(Call.channel_id == endpoint.channel_id, Call.provider_call_id == event.provider_call_id)
        .with_for_update()
    )
    created = contact_created = False
    previous: CallState | None = None
    if call is None:
        call, contact_created = await _open(unit, endpoint, event, at, now, queue_id)
        created = True
    else:
        previous = CallState(call.state)
        await _claim(unit, call)
    changed = await _move(unit, services, endpoint, call, event, at, now, agent_id, queue_id, opened=created)
    if created or changed:
        unit.emit(call_event(ev.CALL_UPDATED, call, endpoint.name, previous, now))
    await session.flush()
    return CallResult(view_of(call, endpoint.name), created, changed, contact_created)


class CallChanged(Exception):
    """Another transaction changed the call after this one read it; the report is tried again."""


async def _claim(unit: Unit, call: Call) -> None:
    """Compare-and-set on the call's version: only one report of a call moves it at a time.

    PostgreSQL's row lock already serializes them; SQLite ignores ``FOR UPDATE``, and two
    reports read before either wrote would both apply (two hang-ups, two timeline entries).
    """
    claimed = cast(CursorResult[Any], await unit.session.execute(
        update(Call).where(Call.id == call.id, Call.version == call.version)
        .values(version=Call.version + 1).execution_options(synchronize_session=False)
    ))
    if claimed.rowcount != 1:
        raise CallChanged(f"call {call.id} changed meanwhile")
    call.version += 1


async def _open(
    unit: Unit, endpoint: Endpoint, event: CallEvent, at: datetime, now: datetime, queue_id: int | None
) -> tuple[Call, bool]:
    """A new call: contact by phone identity (or a new one), a new conversation, the call row."""
    session = unit.session
    if event.customer is None:
        raise ValidationFailed("this call is not known yet: give the customer's number to open it")
    refused = event.state is CallState.ENDED and event.outcome is not None and event.outcome.value == "rejected"
    # A refused call (blocklist) is logged, but it creates no contact and no conversation.
    contact_id, identity_id, contact_created = await _contact(unit, event.customer, event.customer_name, now,
                                                              create=not refused)
    conversation_id: int | None = None
    if not refused:
        assert contact_id is not None
        conversation = Conversation(
            contact_id=contact_id, identity_id=identity_id, channel_id=endpoint.channel_id, queue_id=None,
            status="open", priority=1, created_at=now, updated_at=now, last_message_at=now,
            waiting_since=at if event.direction is CallDirection.IN else None,
        )
        session.add(conversation)
        await session.flush()
        conversation_id = conversation.id
        session.add(ThreadKey(channel_id=endpoint.channel_id, key=call_thread_key(event.provider_call_id),
                              conversation_id=conversation.id))
        unit.emit(Event(ev.CONVERSATION_CREATED, conversation_id=conversation.id, contact_id=contact_id,
                        queue_id=None, data={"channel_id": endpoint.channel_id, "status": "open"}, occurred_at=now))
    call = Call(
        channel_id=endpoint.channel_id, provider_call_id=event.provider_call_id, conversation_id=conversation_id,
        contact_id=contact_id, direction=event.direction.value, from_number=event.from_number,
        to_number=event.to_number, state=CallState.IVR.value, state_at=at,
        queue_id=queue_id if queue_id is not None else endpoint.queue_id,
        started_at=min(event.started_at, at) if event.started_at is not None else at, created_at=now, updated_at=now,
    )
    session.add(call)
    await session.flush()
    return call, contact_created


async def _contact(
    unit: Unit, identity: Identity, name: str | None, now: datetime, *, create: bool
) -> tuple[int | None, int | None, bool]:
    """(contact id, identity id, created) of whoever holds the phone identity; a new contact if nobody."""
    session = unit.session
    row = (await session.execute(
        select(ContactIdentity.id, ContactIdentity.contact_id, Contact.name)
        .join(Contact, Contact.id == ContactIdentity.contact_id)
        .where(ContactIdentity.kind == identity.kind.value, ContactIdentity.address == identity.address)
    )).first()
    if row is not None:
        identity_id, contact_id, known_name = row
        if known_name is None and name:
            contact = await session.get(Contact, contact_id)
            if contact is not None:
                contact.name, contact.updated_at = name, now
        return contact_id, identity_id, False
    if not create:
        return None, None, False
    contact = Contact(name=name or None, attributes={}, created_at=now, updated_at=now)
    session.add(contact)
    await session.flush()
    linked = ContactIdentity(contact_id=contact.id, kind=identity.kind.value, address=identity.address, created_at=now)
    session.add(linked)
    await session.flush()  # a concurrent writer linking the same number fails here; the caller retries
    unit.emit(Event(ev.CONTACT_CREATED, contact_id=contact.id, occurred_at=now))
    return contact.id, linked.id, True


async def _move(
    unit: Unit, services: Services, endpoint: Endpoint, call: Call, event: CallEvent, at: datetime, now: datetime,
    agent_id: int | None, queue_id: int | None, *, opened: bool,
) -> bool:
    """Move the call to the reported state if the state machine allows it; whether it moved.

    ``opened``: this report opened the call (its stored ``ivr`` is only where it starts).
    """
    current, target = CallState(call.state), event.state
    if not may_move(current, call.state_at, target, at):
        return False
    if target == current and agent_id in (None, call.agent_id) and queue_id in (None, call.queue_id):
        return False  # the same state again, with nobody and nowhere new: nothing to change
    conversation = (
        await actions.load_conversation(unit.session, None, call.conversation_id)
        if call.conversation_id is not None else None
    )
    if conversation is not None and call.direction == CallDirection.OUT.value and agent_id is not None:
        await _hold(unit, services, conversation, agent_id, now, reason="call_dialled")
    if target in (CallState.WRAP_UP, CallState.ENDED):
        await finish_call(unit, services, call, conversation, event, at, now, agent_id, opened=opened)
        return True
    if target is CallState.QUEUED:
        target_queue = queue_id or call.queue_id or endpoint.queue_id
        if target_queue is None:
            raise ValidationFailed(f"a queued call needs a queue: name one, or give channel {endpoint.name!r} a queue")
        call.queue_id, call.agent_id = target_queue, None
        call.queued_at = call.queued_at or at
        if conversation is not None and conversation.queue_id != target_queue:
            await move_to_queue(unit, None, conversation.id, target_queue, now=now, reason="call_queued")
    elif target is CallState.RINGING:
        call.agent_id = agent_id if agent_id is not None else call.agent_id
        call.queue_id = queue_id if queue_id is not None else call.queue_id
    elif target is CallState.TALKING:
        await _answer(unit, services, call, conversation, current, agent_id, at, now)
    call.state, call.state_at, call.updated_at = target.value, max(at, call.state_at), now
    return True


async def _answer(
    unit: Unit, services: Services, call: Call, conversation: Conversation | None, current: CallState,
    agent_id: int | None, at: datetime, now: datetime,
) -> None:
    """An agent took the call: it becomes theirs, and they see who is calling."""
    previous_agent = call.agent_id
    agent_id = agent_id if agent_id is not None else call.agent_id
    call.agent_id = agent_id
    call.answered_at = call.answered_at or max(at, call.started_at)
    if conversation is None:
        return
    if agent_id is not None:
        await _hold(unit, services, conversation, agent_id, now, reason="call_answered")
    conversation.waiting_since = None
    conversation.first_response_at = conversation.first_response_at or call.answered_at
    conversation.updated_at = now
    if agent_id is not None and (current is not CallState.TALKING or previous_agent != agent_id):
        contact = await unit.session.get(Contact, call.contact_id) if call.contact_id is not None else None
        unit.emit(Event(
            ev.CALL_SCREEN_POP, conversation_id=conversation.id, contact_id=call.contact_id, queue_id=None,
            user_id=agent_id, occurred_at=now,
            data={
                "call_id": call.id, "conversation_id": conversation.id, "contact_id": call.contact_id,
                "direction": call.direction,
                "known_contact": contact is not None and contact.created_at < call.created_at,
            },
        ))


async def _hold(unit: Unit, services: Services, conversation: Conversation, agent_id: int, now: datetime,
                *, reason: str) -> None:
    """Make the conversation ``agent_id``'s: accept their pending offer, or assign it to them."""
    if conversation.assignee_id == agent_id:
        return
    offer = await unit.session.scalar(
        select(RoutingOffer).where(RoutingOffer.conversation_id == conversation.id, RoutingOffer.state == "pending")
    )
    if offer is not None and offer.agent_id == agent_id and offer.expires_at > now and conversation.assignee_id is None:
        from hub.routing.presence import answer_offer  # routing builds on the inbox: import late

        await answer_offer(services, routing_settings(services), agent_id, offer.id, accept=True, unit=unit, now=now)
    else:
        # Someone else's offer is withdrawn by the router once it sees the assignment.
        await actions.assign(services, None, conversation.id, agent_id, now=now, unit=unit, reason=reason)
    await unit.session.refresh(conversation)


async def _agent_id(unit: Unit, agent: int | str | None) -> int | None:
    """The user id of an agent named by id or login email; 422 when no active user matches."""
    if agent is None:
        return None
    stmt = select(User.id).where(User.active.is_(True))
    if isinstance(agent, int):
        stmt = stmt.where(User.id == agent)
    else:
        stmt = stmt.where(User.email == agent.strip().lower())
    user_id = await unit.session.scalar(stmt)
    if user_id is None:
        raise ValidationFailed(f"there is no active agent {agent!r}")
    return int(user_id)


def _queue_id(services: Services, name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return services.queues[name]
    except KeyError:
        raise ValidationFailed(f"there is no queue named {name!r}") from None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | CallChanged):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "deadlock" in text or "database is locked" in text or "serializ" in text
