"""Routing's offers move live calls: offered → ``ringing`` at that agent; not answered → ``queued``.

So a call's state follows what routing does with its conversation whichever source
reports it, and a PBX or the UI watching ``call.updated`` sees whom it rings now.
Every hub process runs this; the reports are idempotent (the state machine refuses
a second identical one), so it does not matter which process applies an event first.
Best effort: when the bus lost events the next offer corrects the state.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from hub import events as ev
from hub.bus import Subscription
from hub.calls import LIVE_STATES, CallEvent, CallState
from hub.db.models import Call
from hub.errors import HubError
from hub.events import Event
from hub.inbox.actions import endpoint_by_id
from hub.inbox.calls import record_call_event
from hub.services import Services
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

BACK_TO_QUEUE = frozenset({ev.OFFER_TIMED_OUT, ev.OFFER_REJECTED, ev.OFFER_CANCELLED})


class CallRoutingBridge:
    """Subscribes to the bus and reports routing's offers of voice conversations as call states."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = self.services.bus.subscribe()
        self._task = asyncio.create_task(self._run(self._subscription), name="call-routing-bridge")

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        if self._subscription is not None:
            self._subscription.close()

    async def _run(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.next()
            if event is None:
                subscription.reset()  # missed events: the next offer brings the call up to date
                continue
            if event.conversation_id is None or not (event.type == ev.CONVERSATION_OFFERED or event.type in BACK_TO_QUEUE):
                continue
            try:
                await self.apply(event)
            except HubError as exc:
                log.info("call state not updated from %s: %s", event.type, exc.detail)
            except Exception:
                log.exception("call state not updated from %s", event.type)

    async def apply(self, event: Event) -> bool:
        """Report the call of the event's conversation as ringing or queued; whether a call was there."""
        async with self.services.sessions() as session:
            call = await session.scalar(
                select(Call).where(Call.conversation_id == event.conversation_id,
                                   Call.state.in_([s.value for s in LIVE_STATES]))
                .order_by(Call.id.desc()).limit(1)
            )
        endpoint = endpoint_by_id(self.services, call.channel_id) if call is not None else None
        if call is None or endpoint is None:
            return False
        agent = event.data.get("agent_id")
        if event.type == ev.CONVERSATION_OFFERED and isinstance(agent, int):
            report = CallEvent(endpoint.name, call.provider_call_id, CallState.RINGING, agent=agent,
                               occurred_at=event.occurred_at)
        elif call.state == CallState.RINGING.value and call.agent_id == agent:
            report = CallEvent(endpoint.name, call.provider_call_id, CallState.QUEUED, occurred_at=event.occurred_at)
        else:
            return True
        await record_call_event(self.services, report)
        return True
