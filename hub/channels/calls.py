"""What a telephony channel and the hub ask of each other while a call is live.

A voice adapter reports what happens to a call (``hub.calls.CallEvent``: arrived,
queued, talking, ended) to the hub's ``CallDesk`` (``AdapterContext.calls``: the one
call service every telephony channel reports to, ``hub.inbox.call_desk``) over the
provider-neutral call model. When routing offers a
waiting call to an agent, the hub asks the adapter to ``ring`` them
(``VoiceChannel.ring``). Every desk operation is idempotent, because providers retry
their webhooks: a repeated report is refused by the call's state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.calls import CallDesk, CallEvent, CallInfo, NotReached
from hub.channels.base import ChannelAdapter
from hub.errors import HubError

__all__ = ["CallDesk", "CallInfo", "NoDesk", "NotReached", "ProviderCall", "Ring", "VoiceChannel"]


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
class ProviderCall:
    """What the provider says of a call the hub has not heard of for long: on the line, or over since when."""

    live: bool
    ended_at: datetime | None = None


class NoDesk(HubError):
    """A call webhook arrived before the hub wired the channel to its call desk."""

    status = 503
    title = "Call desk not ready"


class VoiceChannel(ChannelAdapter):
    """A channel whose conversations are calls: routing's offers ring agents through it."""

    def call_desk(self) -> CallDesk:
        """The hub's call service (``AdapterContext.calls``), the same one every telephony channel reports to."""
        if self.context.calls is None:
            raise NoDesk(f"channel {self.name!r} is not wired to the call desk")
        return self.context.calls

    async def report_call(self, event: CallEvent, *, language: str | None = None) -> CallInfo:
        """Report ``event`` and return what the desk knows of the call now."""
        desk = self.call_desk()
        result = await desk.report(event, language=language)
        info = await desk.info(event.channel, event.provider_call_id)
        return info or CallInfo(result.call.conversation_id, result.call.state, None, language)

    async def call_status(self, call_id: str) -> ProviderCall | None:
        """Ask the provider whether the call is still on; None when this channel cannot ask.

        Raises ``TransientChannelError`` when the provider cannot answer now.
        """
        return None

    async def ring(self, ring: Ring) -> None:
        """Connect the waiting call to the agent in ``ring``; raise a channel error when that fails."""
        raise NotImplementedError
