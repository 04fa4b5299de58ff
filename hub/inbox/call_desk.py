"""The hub's call service: every telephony channel reports its calls here (``hub.calls.CallDesk``).

One instance per app is every adapter's ``AdapterContext.calls``: the CTI API (any
PBX) and the voice provider's webhooks report through it alike. Reports go to the
call model (``hub.inbox.calls.record_call_event``), whose state machine makes a
provider's retry harmless. Ringing: when routing offers a waiting
call (``conversation.offered``), ``ring_for_offer`` claims the offer once — a
``call_rings`` row, so several hub processes never ring an agent twice — and names
the agent's phone or SIP address (``agent_phones``). ``answered`` (the agent picked
up) hands the call to them through the call model, which accepts their offer;
``not_reached`` declines a busy agent's offer and leaves an unanswered one to
routing's timeout, which counts the miss (``away_after_missed_offers``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.calls import CallEvent, CallInfo, CallResult, CallState, CallView, NotReached
from hub.channels.calls import Ring
from hub.db.models import AgentPhone, Call, CallLanguage, CallRing, RoutingOffer, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import Conflict, NotFound
from hub.inbox.call_finish import routing_settings
from hub.inbox.call_recordings import attach_recording
from hub.inbox.calls import find_call, record_call_event
from hub.routing.presence import answer_offer
from hub.services import Services

log = logging.getLogger(__name__)

WAITING = (CallState.QUEUED.value, CallState.RINGING.value)


class CallService:
    """``CallDesk`` over the hub's database, plus the ringing side the call ringer drives."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _queue_name(self, queue_id: int | None) -> str | None:
        return next((name for name, qid in self.services.queues.items() if qid == queue_id), None)

    async def report(
        self, event: CallEvent, *, language: str | None = None, now: datetime | None = None,
    ) -> CallResult:
        """Store the report (``record_call_event``); keep the caller's ``language`` with the call."""
        result = await record_call_event(self.services, event, now=now)
        if language is not None:
            await self._keep_language(event.channel, event.provider_call_id, language)
        return result

    async def find(self, channel: str, provider_call_id: str) -> CallView | None:
        return await find_call(self.services, channel, provider_call_id)

    async def attach_recording(
        self, channel: str, provider_call_id: str, content: bytes, content_type: str,
        *, duration_seconds: int | None = None,
    ) -> None:
        await attach_recording(self.services, channel, provider_call_id, content, content_type.split(";")[0].strip(),
                               duration_seconds=duration_seconds)

    async def _keep_language(self, channel: str, call_id: str, language: str) -> None:
        channel_id = self.services.endpoint(channel).channel_id
        async with self.services.transaction() as unit:
            row = await unit.session.get(CallLanguage, (channel_id, call_id))
            if row is None:
                await insert_ignore(unit.session, CallLanguage, [
                    {"channel_id": channel_id, "provider_call_id": call_id, "language": language,
                     "created_at": utcnow()},
                ])
            elif row.language != language:
                row.language = language

    async def info(self, channel: str, call_id: str) -> CallInfo | None:
        return await self._info(channel, call_id)

    async def _info(self, channel: str, call_id: str) -> CallInfo | None:
        channel_id = self.services.endpoint(channel).channel_id
        async with self.services.sessions() as session:
            call = await session.scalar(
                select(Call).where(Call.channel_id == channel_id, Call.provider_call_id == call_id)
            )
            if call is None:
                return None
            language = await session.scalar(
                select(CallLanguage.language).where(
                    CallLanguage.channel_id == channel_id, CallLanguage.provider_call_id == call_id
                )
            )
            ring = None
            if call.conversation_id is not None:
                ring = await session.scalar(
                    select(CallRing.offer_id).where(CallRing.conversation_id == call.conversation_id)
                    .order_by(CallRing.offer_id.desc()).limit(1)
                )
        return CallInfo(call.conversation_id, call.state, self._queue_name(call.queue_id), language, ring,
                        call.from_number)

    async def ring_for_offer(self, offer_id: int) -> Ring | None:
        """Claim ``offer_id`` for ringing when it offers a waiting call to an agent with a phone; else None."""
        async with self.services.sessions() as session:
            offer = await session.get(RoutingOffer, offer_id)
            if offer is None or offer.state != "pending":
                return None
            call = await session.scalar(
                select(Call).where(Call.conversation_id == offer.conversation_id, Call.state.in_(WAITING))
                .order_by(Call.id.desc()).limit(1)
            )
            if call is None:
                return None  # not a live call (a voicemail's conversation is offered like any other)
            line = await session.get(AgentPhone, offer.agent_id)
            language = await session.scalar(
                select(CallLanguage.language).where(
                    CallLanguage.channel_id == call.channel_id, CallLanguage.provider_call_id == call.provider_call_id
                )
            )
        channel = next((e.name for e in self.services.endpoints.values() if e.channel_id == call.channel_id), None)
        if channel is None:
            return None
        if line is None or not (line.phone or line.sip):
            log.warning("agent %d has no phone number or SIP address; offer %d will time out", offer.agent_id, offer_id)
            return None
        try:
            async with self.services.transaction() as unit:
                unit.session.add(CallRing(offer_id=offer_id, conversation_id=offer.conversation_id))
                await unit.session.flush()
        except IntegrityError:
            return None  # another hub process rings this one
        # The call shows as ringing at the agent already: hub.inbox.call_routing follows routing's offers.
        queue = self._queue_name(offer.queue_id) or self._queue_name(call.queue_id) or ""
        return Ring(channel, call.provider_call_id, offer.conversation_id, offer_id, offer.agent_id, queue,
                    line.phone, line.sip, offer.expires_at, language)

    async def unrung(self) -> list[int]:
        """Pending offers of live calls that nobody rang (after the bus may have lost events)."""
        async with self.services.sessions() as session:
            rows = await session.scalars(
                select(RoutingOffer.id)
                .join(Call, Call.conversation_id == RoutingOffer.conversation_id)
                .outerjoin(CallRing, CallRing.offer_id == RoutingOffer.id)
                .where(RoutingOffer.state == "pending", Call.state.in_(WAITING), CallRing.offer_id.is_(None))
            )
            return list(rows)

    async def ring_failed(self, ring: Ring) -> None:
        """Ringing could not start: the call waits in its queue again (routing times the offer out)."""
        await self.report(CallEvent(
            channel=ring.channel, provider_call_id=ring.call_id, state=CallState.QUEUED, queue=ring.queue or None,
        ))

    async def answered(self, channel: str, call_id: str, offer_id: int, *, at: datetime) -> bool:
        info = await self._info(channel, call_id)
        if info is None or info.ring_offer_id != offer_id:
            return False  # another agent is rung by now (or the call is unknown)
        if info.state not in WAITING:  # ringing; or queued again, the offer just timed out and nobody else rung
            return info.state == CallState.TALKING.value  # a retried whisper: still theirs
        async with self.services.sessions() as session:
            agent_id = await session.scalar(select(RoutingOffer.agent_id).where(RoutingOffer.id == offer_id))
        if agent_id is None:
            return False
        result = await self.report(CallEvent(
            channel=channel, provider_call_id=call_id, state=CallState.TALKING, agent=int(agent_id), occurred_at=at,
        ))
        return result.call.state == CallState.TALKING.value and result.call.agent_id == agent_id

    async def not_reached(self, channel: str, call_id: str, offer_id: int, why: NotReached, *, at: datetime) -> bool:
        info = await self._info(channel, call_id)
        if info is None or info.ring_offer_id != offer_id:
            return False
        if why == "busy":
            async with self.services.sessions() as session:
                agent_id = await session.scalar(select(RoutingOffer.agent_id).where(RoutingOffer.id == offer_id))
            if agent_id is not None:
                try:
                    await answer_offer(self.services, routing_settings(self.services), int(agent_id), offer_id,
                                       accept=False)
                except (Conflict, NotFound):
                    pass  # timed out or withdrawn meanwhile: routing moved on already
        return True
