"""The normalized call model every telephony source speaks (a PBX over CTI, a voice provider).

Plain values, no ORM, no I/O, like ``hub.messages``. A source reports what it knows
about a call as a ``CallEvent`` (the state the call is in now, at the source's time);
``hub.inbox.calls.record_call_event`` stores it. ``may_move`` is the state machine:
states only move forward, so a late or repeated report never moves a call back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from hub.messages import Identity


class CallState(enum.StrEnum):
    """Where a call is, in the order a call moves through them."""

    IVR = "ivr"  # in a menu or an announcement, not waiting for anyone yet
    QUEUED = "queued"  # waiting in a hub queue for routing to pick an agent
    RINGING = "ringing"  # an agent's phone rings
    TALKING = "talking"  # an agent took the call
    WRAP_UP = "wrap_up"  # the caller hung up; the agent finishes the paperwork
    ENDED = "ended"


RANK = {state: rank for rank, state in enumerate(CallState)}
LIVE_STATES = frozenset(RANK) - {CallState.ENDED}


class CallOutcome(enum.StrEnum):
    """How a call ended."""

    ANSWERED = "answered"  # an agent talked to the caller
    ABANDONED = "abandoned"  # the caller hung up while waiting in a queue (or in the menu)
    MISSED = "missed"  # it rang, nobody answered (an outbound call the customer did not take)
    VOICEMAIL = "voicemail"  # the caller left a message instead
    REJECTED = "rejected"  # refused before anyone was rung (blocklist)
    FAILED = "failed"  # the network could not connect it


class EndReason(enum.StrEnum):
    """Why the hub ended a call itself, when its source never reported the end."""

    STALE = "stale"  # no report for longer than ``[calls] stale_after`` (a crashed PBX, a lost callback)


class CallDirection(enum.StrEnum):
    IN = "in"  # the customer called
    OUT = "out"  # an agent called the customer


AgentRef = int | str  # a user id, or the agent's login email


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What a source knows about a call now.

    ``provider_call_id`` is unique per channel: every report about the same call names
    it, so a repeated report changes nothing. ``customer`` is the customer's phone
    identity (the caller inbound, the callee outbound); it is needed when the hub does
    not know the call yet. ``state`` is the state the call is in as of ``occurred_at``
    (the source's clock; None: now); ``started_at`` when the call began earlier
than the hub's first report of it. With ``ENDED``, ``outcome`` says what the source
    knows (voicemail, rejected, failed); without it the hub derives it, and
    ``answered_at`` lets a single end-of-call report (a CDR) carry the answer time.
    """

    channel: str
    provider_call_id: str
    state: CallState
    direction: CallDirection = CallDirection.IN
    customer: Identity | None = None
    customer_name: str | None = None
    from_number: str | None = None  # as the source gave it, normalized to E.164 where possible
    to_number: str | None = None
    queue: str | None = None  # a hub queue name (QUEUED; or the queue the call belongs to)
    agent: AgentRef | None = None
    occurred_at: datetime | None = None
    started_at: datetime | None = None  # when the call began, if before this report (a late first report)
    answered_at: datetime | None = None
    outcome: CallOutcome | None = None
    reason: EndReason | None = None  # with ENDED: the hub ends the call itself (not the source)


@dataclass(frozen=True)
class CallView:
    """A call. ``from_number``/``to_number`` are personal data: never put them into events or logs."""

    id: int
    channel: str
    provider_call_id: str
    conversation_id: int | None
    contact_id: int | None
    direction: str
    from_number: str | None
    to_number: str | None
    state: str
    state_at: datetime
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
    end_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED.value



@dataclass(frozen=True)
class CallResult:
    """The call after a report: ``created`` (first report), ``changed`` (the report moved it)."""

    call: CallView
    created: bool
    changed: bool
    contact_created: bool


NotReached = Literal["no-answer", "busy", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A call as the desk knows it; ``ring_offer_id`` is the offer whose agent was rung last."""

    conversation_id: int | None
    state: str  # CallState
    queue: str | None
    language: str | None
    ring_offer_id: int | None = None
    caller: str | None = None  # the caller's number (E.164), personal data: never log it


class CallSink(Protocol):
    """Where a telephony adapter reports calls (``AdapterContext.calls``; ``hub.inbox.call_desk`` implements it)."""

    async def report(
        self, event: CallEvent, *, language: str | None = None, now: datetime | None = None,
    ) -> CallResult:
        """Store the report (``hub.inbox.calls.record_call_event``); ``language``: the caller's, to keep."""
        ...

    async def find(self, channel: str, provider_call_id: str) -> CallView | None:
        """The call, or None when the hub does not know it."""
        ...

    async def attach_recording(
        self, channel: str, provider_call_id: str, content: bytes, content_type: str,
        *, duration_seconds: int | None = None,
    ) -> None:
        """Keep a recording of the call (``hub.inbox.call_recordings.attach_recording``)."""
        ...


class CallDesk(CallSink, Protocol):
    """The hub's side of a live call for channels that connect calls to agents themselves (a voice provider)."""

    async def info(self, channel: str, call_id: str) -> CallInfo | None:
        """What the desk knows of a call, or None."""
        ...

    async def answered(self, channel: str, call_id: str, offer_id: int, *, at: datetime) -> bool:
        """The agent of ``offer_id`` picked up: the call is theirs. False when another agent is rung by now."""
        ...

    async def not_reached(self, channel: str, call_id: str, offer_id: int, why: NotReached, *, at: datetime) -> bool:
        """The agent's phone did not answer: declined when busy, else left to routing's timeout (a miss).

        False when ``offer_id`` is no longer the call's latest ring (a stale report: change nothing).
        """
        ...


def may_move(current: CallState, since: datetime, target: CallState, at: datetime) -> bool:
    """Whether a report of ``target`` at ``at`` moves a call that is ``current`` since ``since``.

    Forward always; the same state again only when newer (a transfer to another agent,
    another queue); back only from ringing to queued, and only when newer than the
    ring (the agent did not answer, the call waits again). A finished call stays put.
    """
    if current in (CallState.WRAP_UP, CallState.ENDED):
        return False
    if RANK[target] > RANK[current]:
        return True
    if target == current:
        return at > since
    return current is CallState.RINGING and target is CallState.QUEUED and at > since


def call_thread_key(provider_call_id: str) -> str:
    """The thread key of a call's conversation: a voicemail or note referencing it joins the call."""
    return f"call:{provider_call_id}"
