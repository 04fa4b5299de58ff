"""What a telephony channel and the hub ask of each other while a call is live.

A voice adapter reports what happens to a call (``hub.calls.CallEvent``: arrived,
queued, talking, ended) to the hub's ``CallDesk``, implemented on the database side
(``hub.inbox.call_desk``) over the provider-neutral call model. When routing offers a
waiting call to an agent, the hub asks the adapter to ``ring`` them
(``VoiceChannel.ring``). Every desk operation is idempotent, because providers retry
their webhooks: a repeated report is refused by the call's state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from hub.calls import CallEvent
from hub.channels.base import ChannelAdapter
from hub.errors import HubError

NotReached = Literal["no-answer", "busy", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class Ring:
    """Routing picked an agent for a waiting call: connect them (``offer_id`` answers for it)."""

    channel: str
    call_id: str  # the provider's call id
    conversation_id: int
    offer_id: int
    agent_id: int
    queue: str
    phone: str | None  # the agent's phone number (E.164) ...
    sip: str | None  # ... or SIP address (preferred when both are set)
    expires_at: datetime
    language: str | None = None  # the caller's language


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A call as the desk knows it; ``ring_offer_id`` is the offer whose agent was rung last."""

    conversation_id: int | None
    state: str  # hub.calls.CallState
    queue: str | None
    language: str | None
    ring_offer_id: int | None = None
    caller: str | None = None  # the caller's number (E.164), personal data: never log it


class NoDesk(HubError):
    """A call webhook arrived before the hub wired the channel to its call desk."""

    status = 503
    title = "Call desk not ready"


class CallDesk(Protocol):
    """The hub's side of a live call (database, routing, timeline)."""

    async def report(self, event: CallEvent, *, language: str | None = None) -> CallInfo:
        """Record what happened to a call (``language``: the one the caller chose, to keep)."""
        ...

    async def answered(self, channel: str, call_id: str, offer_id: int, *, at: datetime) -> bool:
        """The agent of ``offer_id`` picked up: the call is theirs. False when another agent is rung by now."""
        ...

    async def not_reached(self, channel: str, call_id: str, offer_id: int, why: NotReached, *, at: datetime) -> bool:
        """The agent's phone did not answer: declined when busy, else left to routing's timeout (a miss).

        False when ``offer_id`` is no longer the call's latest ring (a stale report: change nothing).
        """
        ...

    async def info(self, channel: str, call_id: str) -> CallInfo | None:
        """What the desk knows of a call, or None."""
        ...

    async def keep_recording(
        self, channel: str, call_id: str, content: bytes, content_type: str, *, duration_seconds: int | None,
    ) -> None:
        """Keep a recording of the call (recorded because the channel is configured to)."""
        ...


class VoiceChannel(ChannelAdapter):
    """A channel whose conversations are calls: routing's offers ring agents through it."""

    desk: CallDesk | None = None

    def attach(self, desk: CallDesk) -> None:
        """Wire the channel to the hub's call desk (at start-up)."""
        self.desk = desk

    def call_desk(self) -> CallDesk:
        if self.desk is None:
            raise NoDesk(f"channel {self.name!r} is not wired to the call desk yet")
        return self.desk

    async def ring(self, ring: Ring) -> None:
        """Connect the waiting call to the agent in ``ring``; raise a channel error when that fails."""
        raise NotImplementedError
