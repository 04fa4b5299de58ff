"""Carrying out the engine's decisions in the database, through the inbox actions.

All decisions of one round share a transaction, each inside its own savepoint: one
that cannot be carried out (a supervisor assigned the conversation a moment ago, the
agent accepted just before the timeout) is rolled back alone and its conversation
reported back, so the service re-reads the truth and corrects the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError

from hub import events as ev
from hub.db.models import RoutingAgent, RoutingEntry, RoutingOffer, RoutingOutcome
from hub.errors import HubError
from hub.events import Event
from hub.inbox import actions, queueing
from hub.routing.lease import Lease
from hub.routing.model import (
    Assign,
    Decision,
    Escalate,
    Fallback,
    Offer,
    OfferCancelled,
    OfferTimedOut,
    Overflow,
    Requeue,
    SetAway,
)
from hub.routing.settings import RoutingSettings
from hub.routing.store import ensure_agent_row
from hub.services import Services, Unit


class NotApplied(Exception):
    """The decision no longer fits the database; the conversation needs re-reading."""


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass
class Round:
    """The outcome of applying one round: conversations to re-read, follow-up moves."""

    failed: set[int] = field(default_factory=set)
    moved: list[tuple[int, int]] = field(default_factory=list)  # (conversation, new queue id)
    written: list[int] = field(default_factory=list)  # ids of the events this round wrote


class Applier:
    """Writes decisions; ``engine_move`` is called for an overflow once it is in the database."""

    def __init__(self, services: Services, settings: RoutingSettings, lease: Lease) -> None:
        self.services = services
        self.settings = settings
        self.lease = lease
        self.queue_names = {q.id: q.name for q in settings.queues}
        self.queue_ids = {q.name: q.id for q in settings.queues}

    async def apply(self, decisions: Sequence[Decision], now: datetime, more: Callable[[int, int], Sequence[Decision]]) -> Round:
        """Apply ``decisions`` in order; ``more(conversation, queue)`` routes an overflowed one anew."""
        result = Round()
        queue = list(decisions)
        async with self.services.transaction() as unit:
            await self.lease.fence(unit.session)
            while queue:
                decision = queue.pop(0)
                conversation_id = getattr(decision, "conversation_id", None)
                if conversation_id is not None and conversation_id in result.failed:
                    continue
                mark = len(unit.events)
                try:
                    async with unit.session.begin_nested():
                        await self._one(unit, decision, now, result)
                except (NotApplied, HubError, IntegrityError):
                    del unit.events[mark:]
                    if conversation_id is not None:
                        result.failed.add(conversation_id)
                    continue
                if isinstance(decision, Overflow):
                    target = self.queue_ids[decision.to_queue]
                    queue.extend(more(decision.conversation_id, target))
        result.written = [e.id for e in unit.written if e.id is not None]
        return result

    async def _one(self, unit: Unit, decision: Decision, now: datetime, result: Round) -> None:
        session = unit.session
        if isinstance(decision, Offer):
            offer = RoutingOffer(
                conversation_id=decision.conversation_id, agent_id=decision.agent_id, queue_id=decision.queue_id,
                state="pending", offered_at=now, expires_at=at(decision.expires_at),
            )
            session.add(offer)
            await session.flush()
            await self._entry(unit, decision.conversation_id, state="offered", agent_id=decision.agent_id)
            await self._routed(unit, decision.agent_id, now)
            rules = self.settings.queue(self.queue_names[decision.queue_id])
            unit.emit(
                Event(
                    ev.CONVERSATION_OFFERED, conversation_id=decision.conversation_id, queue_id=decision.queue_id,
                    user_id=decision.agent_id, occurred_at=now,
                    data={
                        "offer_id": offer.id, "agent_id": decision.agent_id,
                        "expires_at": at(decision.expires_at).isoformat(),
                        "timeout_seconds": rules.offer_timeout, "waited_seconds": round(decision.waited, 3),
                    },
                )
            )
        elif isinstance(decision, Assign):
            reason = "routed" if decision.fallback is Fallback.AVAILABLE else f"routed_fallback_{decision.fallback.value}"
            await actions.assign(self.services, None, decision.conversation_id, decision.agent_id,
                                 now=now, unit=unit, expect=None, reason=reason)
            await self._entry(unit, decision.conversation_id, state="assigned", agent_id=decision.agent_id, assigned_at=now)
            await self._routed(unit, decision.agent_id, now)
            self.answered(unit, decision.queue_id, decision.conversation_id, decision.agent_id, decision.waited, now)
        elif isinstance(decision, OfferTimedOut | OfferCancelled):
            timed_out = isinstance(decision, OfferTimedOut)
            offer_id = await self._close_offer(unit, decision.conversation_id, decision.agent_id,
                                               "timed_out" if timed_out else "cancelled", now)
            await self._entry(unit, decision.conversation_id, state="waiting", agent_id=None)
            data: dict[str, Any] = {"offer_id": offer_id, "agent_id": decision.agent_id}
            if isinstance(decision, OfferTimedOut):
                data["missed_in_a_row"] = decision.missed_in_a_row
                await self._agent(unit, decision.agent_id, now, missed_offers=decision.missed_in_a_row)
                self.outcome(unit, "offer_timed_out", decision.queue_id, decision.conversation_id, decision.agent_id, now)
            else:
                data["reason"] = decision.reason
            unit.emit(Event(ev.OFFER_TIMED_OUT if timed_out else ev.OFFER_CANCELLED,
                            conversation_id=decision.conversation_id, queue_id=decision.queue_id,
                            user_id=decision.agent_id, occurred_at=now, data=data))
        elif isinstance(decision, SetAway):
            changed = await _rows(session, update(RoutingAgent).where(
                RoutingAgent.user_id == decision.agent_id, RoutingAgent.presence == "available",
            ).values(presence="away", presence_reason=decision.reason, presence_changed_at=now, updated_at=now))
            if changed:
                unit.emit(Event(ev.AGENT_PRESENCE_CHANGED, user_id=decision.agent_id, occurred_at=now,
                                data={"presence": "away", "previous": "available", "reason": decision.reason,
                                      "by_user_id": None}))
        elif isinstance(decision, Requeue):
            await actions.assign(self.services, None, decision.conversation_id, None,
                                 now=now, unit=unit, expect=decision.agent_id, reason="requeued")
            await self._entry(unit, decision.conversation_id, state="waiting", agent_id=None, entered_at=now, step=0)
            unit.emit(Event(ev.CONVERSATION_REQUEUED, conversation_id=decision.conversation_id,
                            queue_id=decision.queue_id, user_id=decision.agent_id, occurred_at=now,
                            data={"agent_id": decision.agent_id, "reason": decision.reason}))
        elif isinstance(decision, Escalate):
            await self._entry(unit, decision.conversation_id, step=decision.step)
            rule = decision.rule
            if rule.raise_priority:
                conversation = await actions.load_conversation(session, None, decision.conversation_id)
                await queueing.set_priority(unit, None, decision.conversation_id,
                                            min(conversation.priority + rule.raise_priority, queueing.MAX_PRIORITY),
                                            now=now, reason=f"escalation_step_{decision.step}")
            unit.emit(Event(ev.ESCALATION_TRIGGERED, conversation_id=decision.conversation_id,
                            queue_id=decision.queue_id, occurred_at=now,
                            data={"step": decision.step, "actions": rule.actions, "alert": rule.alert,
                                  "overflow_to": rule.overflow_to, "widen_levels": rule.relief,
                                  "raise_priority": rule.raise_priority,
                                  "waited_seconds": round(decision.waited, 3)}))
        elif isinstance(decision, Overflow):
            target = self.queue_ids[decision.to_queue]
            await queueing.move_to_queue(unit, None, decision.conversation_id, target, now=now, reason=decision.reason)
            await self._entry(unit, decision.conversation_id, queue_id=target, entered_at=now, step=0)
            self.outcome(unit, "entered", target, decision.conversation_id, None, now)

    async def _entry(self, unit: Unit, conversation_id: int, **values: Any) -> None:
        values["updated_at"] = values.get("entered_at") or datetime.now(UTC)
        if await _rows(unit.session, update(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id).values(**values)) != 1:
            raise NotApplied(f"conversation {conversation_id} has no routing entry")

    async def _routed(self, unit: Unit, agent_id: int, now: datetime) -> None:
        await self._agent(unit, agent_id, now, last_routed_at=now)

    async def _agent(self, unit: Unit, agent_id: int, now: datetime, **values: Any) -> None:
        await ensure_agent_row(unit.session, agent_id, now)
        await unit.session.execute(update(RoutingAgent).where(RoutingAgent.user_id == agent_id).values(updated_at=now, **values))

    async def _close_offer(self, unit: Unit, conversation_id: int, agent_id: int, state: str, now: datetime) -> int:
        offer_id = (
            await unit.session.execute(
                update(RoutingOffer)
                .where(RoutingOffer.conversation_id == conversation_id, RoutingOffer.agent_id == agent_id,
                       RoutingOffer.state == "pending")
                .values(state=state, answered_at=now)
                .returning(RoutingOffer.id)
            )
        ).scalar_one_or_none()
        if offer_id is None:
            raise NotApplied(f"no pending offer of conversation {conversation_id} to agent {agent_id}")
        return int(offer_id)

    def answered(self, unit: Unit, queue_id: int | None, conversation_id: int, agent_id: int, waited: float, now: datetime) -> None:
        record_answered(unit, self.settings, queue_id, conversation_id, agent_id, waited, now)

    def outcome(self, unit: Unit, kind: str, queue_id: int | None, conversation_id: int | None, agent_id: int | None,
                now: datetime, *, wait: float | None = None, handle: float | None = None, within: bool | None = None,
                media: str | None = None) -> None:
        record_outcome(unit, kind, queue_id, conversation_id, agent_id, now, wait=wait, handle=handle,
                       within=within, media=media)


def record_outcome(unit: Unit, kind: str, queue_id: int | None, conversation_id: int | None, agent_id: int | None,
                   now: datetime, *, wait: float | None = None, handle: float | None = None,
                   within: bool | None = None, media: str | None = None) -> None:
    """Append to the outcome log (``routing_outcomes``) in the caller's transaction."""
    unit.session.add(RoutingOutcome(queue_id=queue_id, conversation_id=conversation_id, agent_id=agent_id,
                                    kind=kind, media=media, occurred_at=now, wait_seconds=wait,
                                    handle_seconds=handle, within_target=within))


def record_answered(unit: Unit, settings: RoutingSettings, queue_id: int | None, conversation_id: int, agent_id: int,
                    waited: float, now: datetime) -> None:
    """An ``answered`` outcome, judged against the queue's service-level time."""
    target = next((q.service_level_seconds for q in settings.queues if q.id == queue_id), None)
    record_outcome(unit, "answered", queue_id, conversation_id, agent_id, now, wait=waited,
                   within=None if target is None else waited <= target)


async def _rows(session: Any, stmt: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(stmt))
    return int(result.rowcount)
