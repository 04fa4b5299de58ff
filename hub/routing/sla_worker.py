"""Keeps every conversation's SLA clocks current and raises ``sla.warning`` / ``sla.breached``.

Runs in the router process. After events touching a conversation, and whenever a
stored clock's warning or due time passes, it folds that conversation's events
(``hub.routing.sla``) again and stores the result in ``routing_sla``. Each warning and
each breach is announced once per target (and per next-response cycle).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select

from hub import events as ev
from hub.db.models import Conversation, EventRecord, SlaClock
from hub.events import Event
from hub.routing.lease import Lease
from hub.routing.router import ChannelInfo
from hub.routing.settings import RoutingSettings
from hub.routing.sla import TargetState, facts_from_events, select_policy, sla_state
from hub.services import Services

Clock = Callable[[], datetime]
SLA_EVENT_TYPES = (
    ev.CONVERSATION_CREATED, ev.MESSAGE_RECEIVED, ev.MESSAGE_CREATED, ev.CONVERSATION_STATUS_CHANGED,
    ev.CALL_UPDATED,  # answering a call is the first response of its conversation
)
TRIGGERS = frozenset(
    {*SLA_EVENT_TYPES, ev.CONVERSATION_QUEUE_CHANGED, ev.CONVERSATION_PRIORITY_CHANGED}
)
BATCH = 200


class SlaWorker:
    def __init__(
        self, services: Services, settings: RoutingSettings, channels: Mapping[int, ChannelInfo], lease: Lease,
        clock: Clock,
    ) -> None:
        self.services = services
        self.settings = settings
        self.channels = channels
        self.lease = lease
        self.clock = clock
        self.queue_names = {q.id: q.name for q in settings.queues}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.sla)

    async def rebuild(self) -> None:
        """Recompute every conversation that is not resolved (a new router, or after a gap)."""
        if not self.enabled:
            return
        async with self.services.sessions() as session:
            ids = list((await session.scalars(select(Conversation.id).where(Conversation.status != "resolved"))).all())
        for start in range(0, len(ids), BATCH):
            await self.recompute(ids[start : start + BATCH])

    async def handle(self, events: Sequence[Event]) -> None:
        if not self.enabled:
            return
        ids = sorted({e.conversation_id for e in events if e.type in TRIGGERS and e.conversation_id is not None})
        for start in range(0, len(ids), BATCH):
            await self.recompute(ids[start : start + BATCH])

    async def scan_due(self) -> None:
        """Recompute the clocks whose warning or due time has passed unannounced."""
        if not self.enabled:
            return
        now = self.clock()
        async with self.services.sessions() as session:
            ids = sorted(set((await session.scalars(
                select(SlaClock.conversation_id).where(
                    SlaClock.running.is_(True),
                    or_(
                        (SlaClock.warn_at <= now) & SlaClock.warned.is_(False),
                        (SlaClock.due_at <= now) & SlaClock.breached.is_(False),
                    ),
                ).limit(5000)
            )).all()))
        for start in range(0, len(ids), BATCH):
            await self.recompute(ids[start : start + BATCH])

    async def recompute(self, ids: Sequence[int]) -> None:
        now = self.clock()
        async with self.services.sessions() as session:
            conversations = {
                row[0]: row
                for row in await session.execute(
                    select(Conversation.id, Conversation.queue_id, Conversation.priority, Conversation.channel_id)
                    .where(Conversation.id.in_(ids))
                )
            }
            logs: dict[int, list[Event]] = defaultdict(list)
            for record in (await session.scalars(
                select(EventRecord)
                .where(EventRecord.conversation_id.in_(ids), EventRecord.type.in_(SLA_EVENT_TYPES))
                .order_by(EventRecord.id)
            )).all():
                logs[record.conversation_id or 0].append(Event.from_record(record))
            stored = {
                (c.conversation_id, c.target): c
                for c in (await session.scalars(select(SlaClock).where(SlaClock.conversation_id.in_(ids)))).all()
            }
        async with self.services.transaction() as unit:
            await self.lease.fence(unit.session)
            session = unit.session
            for cid in ids:
                row = conversations.get(cid)
                if row is None:
                    continue
                _, queue_id, priority, channel_id = row
                info = self.channels.get(channel_id)
                policy = select_policy(
                    self.settings.sla, queue=self.queue_names.get(queue_id or 0), priority=priority,
                    channel=info.name if info else None, media=info.media if info else None,
                )
                await session.execute(delete(SlaClock).where(SlaClock.conversation_id == cid))
                if policy is None:
                    continue
                for state in sla_state(policy, facts_from_events(logs.get(cid, [])), now):
                    previous = stored.get((cid, state.target))
                    cycle = state.started_at
                    same_cycle = previous is not None and previous.cycle_started_at == cycle
                    warned = same_cycle and previous is not None and previous.warned
                    breached = same_cycle and previous is not None and previous.breached
                    if state.state == "warning" and not warned and state.met_at is None:
                        warned = True
                        unit.emit(self._event(ev.SLA_WARNING, cid, queue_id, policy.name, state, now))
                    if state.state == "missed" and not breached:
                        warned = breached = True
                        unit.emit(self._event(ev.SLA_BREACHED, cid, queue_id, policy.name, state, now))
                    session.add(SlaClock(
                        conversation_id=cid, target=state.target, policy=policy.name, queue_id=queue_id,
                        state=state.state, running=state.running, goal_seconds=state.goal,
                        elapsed_seconds=state.elapsed, due_at=state.due_at, warn_at=state.warn_at,
                        met_at=state.met_at, cycle_started_at=cycle, warned=warned, breached=breached,
                        updated_at=now,
                    ))

    def _event(self, type_: str, cid: int, queue_id: int | None, policy: str, state: TargetState, now: datetime) -> Event:
        return Event(
            type_, conversation_id=cid, queue_id=queue_id, occurred_at=now,
            data={
                "policy": policy, "target": state.target, "state": state.state,
                "goal_seconds": state.goal, "elapsed_seconds": round(state.elapsed, 1),
                "due_at": state.due_at.isoformat() if state.due_at else None,
            },
        )

