"""The leader's router: keeps the engine in line with the database and applies its decisions.

``sync(ids)`` is the heart: it reads each conversation (status, assignee, queue,
priority), its routing entry and pending offer, and tells the engine what is true —
waiting in a queue, held by an agent, or gone — writing entries and outcomes as it
goes. It is idempotent, so an event seen twice, or a full re-read after the bus lost
events, changes nothing that is already right.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update

from hub import events as ev
from hub.crm_link.segment_store import segments_of_contact
from hub.db.models import RoutingEntry, RoutingOffer, RoutingOutcome
from hub.events import Event
from hub.inbox import queueing
from hub.routing import store
from hub.routing.apply import Applier
from hub.routing.engine import Engine
from hub.routing.lease import Lease
from hub.routing.model import Decision, Presence
from hub.routing.rules import Facts, apply_rules, rule_segments
from hub.routing.settings import RoutingSettings, agent_capacity
from hub.services import Services, Unit

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Write = Callable[[Unit], Awaitable[None]]  # a deferred write of ``sync``, run in its transaction
CONVERSATION_EVENTS = frozenset(
    {
        ev.CONVERSATION_CREATED, ev.MESSAGE_RECEIVED, ev.MESSAGE_CREATED, ev.CONVERSATION_ASSIGNED,
        ev.CONVERSATION_STATUS_CHANGED, ev.CONVERSATION_QUEUE_CHANGED, ev.CONVERSATION_PRIORITY_CHANGED,
    }
)
CALL_MEDIA = "voice"  # a channel of calls: real-time only while a call is on the line
CALL_BACK_MEDIA = "messaging"  # what such a conversation is without one (a voicemail to call back)
MAX_CORRECTIONS = 3  # rounds of re-reading after failed decisions before waiting for the next event


@dataclass(frozen=True)
class ChannelInfo:
    """What routing needs to know about a channel: its name, medium and whether it gets offers."""

    name: str
    media: str
    realtime: bool


class Router:
    """The engine plus its database; one exists in the process that holds the lease."""

    def __init__(
        self, services: Services, settings: RoutingSettings, channels: Mapping[int, ChannelInfo], lease: Lease,
        clock: Clock,
    ) -> None:
        self.services = services
        self.settings = settings
        self.channels = channels
        self.lease = lease
        self.clock = clock
        self.engine = Engine(settings.queues)
        self.call_channels = frozenset(cid for cid, info in channels.items() if info.media == CALL_MEDIA)
        self.applier = Applier(services, settings, lease)
        self.own_events: set[int] = set()
        self._agent_keys: dict[int, tuple[object, ...]] = {}

    # --- building -----------------------------------------------------------------

    async def rebuild(self) -> None:
        """Load everything routing needs from the database (a new leader, or after lost events)."""
        self.engine = Engine(self.settings.queues)
        self._agent_keys.clear()
        self.own_events.clear()
        await self.refresh_agents()
        async with self.services.sessions() as session:
            ids = await store.routable_conversation_ids(session)
        await self.sync(ids)
        log.info("router rebuilt", extra={"conversations": len(ids), "agents": len(self.engine.agents)})

    async def refresh_agents(self, user_ids: Iterable[int] | None = None) -> None:
        """Re-read agents (all, or ``user_ids``): presence, skills, queues, capacity."""
        now = self.clock()
        wanted = None if user_ids is None else set(user_ids)
        async with self.services.sessions() as session:
            rows = await store.load_agents(session, wanted)
        seen = set()
        decisions: list[Decision] = []
        for row in rows:
            seen.add(row.id)
            key = (row.presence, tuple(sorted(row.skills.items())), row.queues, repr(row.capacity))
            if self._agent_keys.get(row.id) == key:
                continue
            self._agent_keys[row.id] = key
            decisions += self.engine.set_agent(
                row.id, presence=Presence(row.presence), skills=row.skills, queues=row.queues,
                capacity=agent_capacity(self.settings.capacity, row.capacity), now=now.timestamp(),
                last_routed=row.last_routed_at.timestamp() if row.last_routed_at else None,
                missed=row.missed_offers,
            )
        gone = (set(self.engine.agents) if wanted is None else wanted & set(self.engine.agents)) - seen
        for agent_id in gone:
            self._agent_keys.pop(agent_id, None)
            decisions += self.engine.remove_agent(agent_id, now.timestamp())
        await self.apply(decisions)

    # --- events -------------------------------------------------------------------

    async def handle(self, events: Sequence[Event]) -> None:
        """Bring the engine up to date with a batch of events from the bus."""
        conversations: dict[int, None] = {}
        agents: set[int] = set()
        decisions: list[Decision] = []
        now = self.clock().timestamp()
        for event in events:
            if event.id is not None and event.id in self.own_events:
                self.own_events.discard(event.id)
                continue
            if event.type in CONVERSATION_EVENTS and event.conversation_id is not None:
                conversations[event.conversation_id] = None
            elif event.type == ev.OFFER_REJECTED and event.conversation_id is not None:
                agent_id = event.data.get("agent_id")
                item = self.engine.items.get(event.conversation_id)
                if item is not None and item.offered_to == agent_id and isinstance(agent_id, int):
                    decisions += self.engine.reject(event.conversation_id, agent_id, now)
            elif event.type in (ev.AGENT_PRESENCE_CHANGED, ev.AGENT_UPDATED) and event.user_id is not None:
                agents.add(event.user_id)
        if agents:
            await self.refresh_agents(agents)
        await self.apply(decisions)
        if conversations:
            await self.sync(list(conversations))

    async def tick(self) -> None:
        await self.apply(self.engine.tick(self.clock().timestamp()))

    # --- the truth ----------------------------------------------------------------

    async def sync(self, ids: Sequence[int], *, depth: int = 0) -> None:
        """Tell the engine what the database says about these conversations (see module doc).

        Reads first; a transaction is opened only when something must be written, so the
        common case — an event about work the engine already knows right — costs no write.
        """
        if not ids:
            return
        async with self.services.sessions() as session:
            conversations = await store.load_conversations(session, ids, call_channels=self.call_channels)
            entries = await store.load_entries(session, ids)
            offers = await store.load_pending_offers(session, ids)
        now = self.clock()
        if self.settings.rules:
            await self._apply_new_rules(conversations, entries, now)
        writes = Writes()
        decisions: list[Decision] = []
        t = now.timestamp()
        for cid in ids:
            row, entry, offer = conversations.get(cid), entries.get(cid), offers.get(cid)
            if row is None:
                decisions += self.engine.withdraw(cid, t) + self.engine.release(cid, t)
            elif row.status == "open" and row.assignee_id is None and row.queue_id in self.engine.queues:
                decisions += self._sync_waiting(row, entry, offer, now, writes)
            elif row.status == "open" and row.assignee_id is not None:
                decisions += self._sync_held(row, entry, offer, now, writes)
            else:
                decisions += self._sync_gone(row, entry, offer, now, writes)
        if writes:
            async with self.services.transaction() as unit:
                await self.lease.fence(unit.session)
                await writes.run(unit)
            self.own_events.update(e.id for e in unit.written if e.id is not None)
        await self.apply(decisions, depth=depth)

    def _media(self, row: store.ConversationRow, entry: store.EntryRow | None) -> tuple[ChannelInfo, str, bool]:
        info = self.channels.get(row.channel_id, ChannelInfo("", "messaging", False))
        if info.media == CALL_MEDIA and not row.live_call:
            # No call on the line (a voicemail reopened it): asynchronous work, never rung.
            return info, CALL_BACK_MEDIA, False
        if entry is not None:
            return info, entry.media, entry.realtime
        return info, info.media, info.realtime

    def _sync_waiting(
        self, row: store.ConversationRow, entry: store.EntryRow | None, offer: store.OfferRow | None,
        now: datetime, writes: Writes,
    ) -> list[Decision]:
        """Open, unassigned, in a routed queue: it must wait in the engine (or be offered)."""
        cid, t = row.id, now.timestamp()
        assert row.queue_id is not None
        info, media, realtime = self._media(row, entry)
        item = self.engine.items.get(cid)
        decisions: list[Decision] = []
        if entry is None:
            since = row.waiting_since or now
            writes.entries.append({
                "conversation_id": cid, "queue_id": row.queue_id, "state": "waiting", "agent_id": None,
                "media": media, "realtime": realtime, "channel": info.name, "since": since, "entered_at": now,
                "step": 0, "assigned_at": None, "updated_at": now,
            })
            writes.outcome("entered", row.queue_id, cid, None, now, media=media)
            entry = store.EntryRow(cid, row.queue_id, "waiting", None, media, realtime, info.name, since, now, 0, None)
        elif (entry.state in ("assigned", "parked") or entry.queue_id != row.queue_id
              or (entry.media, entry.realtime) != (media, realtime)):
            moved = entry.queue_id != row.queue_id
            remedia = (entry.media, entry.realtime) != (media, realtime)
            since = (row.waiting_since or now) if entry.state == "parked" else entry.since
            fresh = moved or remedia or entry.state != "waiting"
            entered = now if fresh else entry.entered_at
            step = 0 if fresh else entry.step
            writes.append(_update_entry(cid, state="waiting", agent_id=None, queue_id=row.queue_id, updated_at=now,
                                        since=since, entered_at=entered, step=step, media=media, realtime=realtime))
            if moved and not remedia and item is not None:
                return self.engine.move(cid, row.queue_id, t)
            if remedia and offer is not None:
                # Offered as a call that is no longer on the line: the agent is not rung for it.
                withdrawn = offer
                writes.append(lambda unit: self._cancel_offer(unit, withdrawn, now))
                offer = None
            entry = store.EntryRow(cid, row.queue_id, "waiting", None, media, realtime, entry.channel, since, entered,
                                   step, None)
            decisions += self.engine.release(cid, t, wrap_up=False)
            if item is not None:
                decisions += self.engine.withdraw(cid, t)
            item = None
        if item is None:
            decisions += self.engine.enqueue(
                cid, row.queue_id, media=media, realtime=realtime, priority=row.priority,
                since=entry.since.timestamp(), now=t, channel=entry.channel,
                entered=entry.entered_at.timestamp(), step=entry.step,
                offered_to=offer.agent_id if offer is not None else None,
                offer_expires=offer.expires_at.timestamp() if offer is not None else 0.0,
            )
        elif item.priority != row.priority:
            decisions += self.engine.set_priority(cid, row.priority, t)
        return decisions

    def _sync_held(
        self, row: store.ConversationRow, entry: store.EntryRow | None, offer: store.OfferRow | None,
        now: datetime, writes: Writes,
    ) -> list[Decision]:
        """Open and assigned: the assignee holds it (an accepted offer, or a hand assignment)."""
        cid, t, agent_id = row.id, now.timestamp(), row.assignee_id
        assert agent_id is not None
        info, media, realtime = self._media(row, entry)
        decisions: list[Decision] = []
        item = self.engine.items.get(cid)
        if item is not None and item.offered_to == agent_id:
            decisions += self.engine.accept(cid, agent_id, t)
        elif self.engine.holder_of(cid) != agent_id:
            since = entry.since if entry is not None else (row.waiting_since or now)
            decisions += self.engine.hold(cid, agent_id, media=media, queue_id=row.queue_id, realtime=realtime,
                                          now=t, since=since.timestamp(), answered=row.waiting_since is None)
        self.engine.mark_answered(cid, row.waiting_since is None, t)
        if offer is not None and offer.agent_id != agent_id:
            writes.append(lambda unit: self._cancel_offer(unit, offer, now))
        if entry is None or entry.state != "assigned" or entry.agent_id != agent_id:
            writes.append(lambda unit: self._hold_entry(unit, row, entry, info, media, realtime, now))
        return decisions

    def _sync_gone(
        self, row: store.ConversationRow, entry: store.EntryRow | None, offer: store.OfferRow | None,
        now: datetime, writes: Writes,
    ) -> list[Decision]:
        """Pending, snoozed, resolved or out of routed queues: nobody routes or holds it now."""
        cid, t = row.id, now.timestamp()
        was_waiting = entry is not None and entry.state in ("waiting", "offered")
        resolved = row.status == "resolved"
        decisions = self.engine.withdraw(cid, t) + self.engine.release(cid, t, wrap_up=resolved)
        if offer is not None:
            writes.append(lambda unit: self._cancel_offer(unit, offer, now))
        if entry is None:
            return decisions
        if resolved and was_waiting:
            wait = (now - entry.since).total_seconds()
            writes.outcome("abandoned", entry.queue_id, cid, None, now, media=entry.media, wait=wait)
        elif resolved and entry.assigned_at is not None:
            handle = (now - entry.assigned_at).total_seconds()
            writes.outcome("handled", entry.queue_id, cid, entry.agent_id, now, media=entry.media, handle=handle)
        if resolved or row.queue_id is None:
            writes.append(lambda unit: store.delete_entry(unit.session, cid))
        elif was_waiting:
            writes.append(_update_entry(cid, state="parked", agent_id=None, updated_at=now))
        return decisions

    async def _apply_new_rules(
        self, conversations: dict[int, store.ConversationRow], entries: dict[int, store.EntryRow], now: datetime
    ) -> None:
        """Ingest rules for conversations routing sees waiting for the first time (updates ``conversations``)."""
        new = [
            row for cid, row in conversations.items()
            if cid not in entries and row.status == "open" and row.assignee_id is None
            and row.queue_id in self.engine.queues
        ]
        if not new:
            return
        async with self.services.transaction() as unit:
            await self.lease.fence(unit.session)
            for row in new:
                conversations[row.id] = await self._apply_rules(unit, row, self._media(row, None)[0], now)
        self.own_events.update(e.id for e in unit.written if e.id is not None)

    async def _apply_rules(self, unit: Unit, row: store.ConversationRow, info: ChannelInfo, now: datetime) -> store.ConversationRow:
        session = unit.session
        text, subject = await store.first_message(session, row.id)
        attributes = await store.contact_attributes(session, row.contact_id)
        segments = await segments_of_contact(session, rule_segments(self.settings.rules), row.contact_id, now=now)
        queue_names = {q.id: q.name for q in self.settings.queues}
        facts = Facts(info.name, queue_names.get(row.queue_id or 0), text, subject, attributes, segments)
        outcome = apply_rules(self.settings.rules, facts, row.priority)
        if not outcome.matched:
            return row
        reason = "rule:" + ",".join(outcome.matched)
        priority, queue_id = row.priority, row.queue_id
        if outcome.priority != row.priority:
            priority = (await queueing.set_priority(unit, None, row.id, min(outcome.priority, queueing.MAX_PRIORITY),
                                                    now=now, reason=reason)).priority
        if outcome.queue is not None and self.engine.queue_ids.get(outcome.queue) != row.queue_id:
            queue_id = (await queueing.move_to_queue(unit, None, row.id, self.engine.queue_ids[outcome.queue],
                                                     now=now, reason=reason)).queue_id
        return store.ConversationRow(row.id, row.status, row.assignee_id, queue_id, priority, row.channel_id,
                                     row.contact_id, row.waiting_since, row.created_at, row.live_call)

    async def _hold_entry(self, unit: Unit, row: store.ConversationRow, entry: store.EntryRow | None,
                          info: ChannelInfo, media: str, realtime: bool, now: datetime) -> None:
        session = unit.session
        if entry is None:
            session.add(RoutingEntry(
                conversation_id=row.id, queue_id=row.queue_id, state="assigned", agent_id=row.assignee_id,
                media=media, realtime=realtime, channel=info.name, since=row.waiting_since or now, entered_at=now,
                step=0, assigned_at=now, updated_at=now,
            ))
            return
        if entry.state in ("waiting", "offered"):
            assert row.assignee_id is not None
            self.applier.answered(unit, entry.queue_id, row.id, row.assignee_id, (now - entry.since).total_seconds(), now)
        await session.execute(update(RoutingEntry).where(RoutingEntry.conversation_id == row.id).values(
            state="assigned", agent_id=row.assignee_id, assigned_at=entry.assigned_at if entry.state == "assigned" else now,
            updated_at=now,
        ))

    async def _cancel_offer(self, unit: Unit, offer: store.OfferRow, now: datetime) -> None:
        await unit.session.execute(
            update(RoutingOffer).where(RoutingOffer.id == offer.id, RoutingOffer.state == "pending")
            .values(state="cancelled", answered_at=now)
        )
        unit.emit(Event(ev.OFFER_CANCELLED, conversation_id=offer.conversation_id, queue_id=offer.queue_id,
                        user_id=offer.agent_id, occurred_at=now,
                        data={"offer_id": offer.id, "agent_id": offer.agent_id, "reason": "conversation_changed"}))

    # --- decisions ----------------------------------------------------------------

    async def apply(self, decisions: Sequence[Decision], *, depth: int = 0) -> None:
        """Carry decisions out; re-read the conversations whose decision no longer fitted."""
        if not decisions:
            return
        now = self.clock()

        def more(conversation_id: int, queue_id: int) -> Sequence[Decision]:
            return self.engine.move(conversation_id, queue_id, now.timestamp())

        result = await self.applier.apply(decisions, now, more)
        self.own_events.update(result.written)
        if result.failed:
            log.info("routing decisions no longer fitted; re-reading", extra={"conversations": len(result.failed)})
            if depth < MAX_CORRECTIONS:
                await self.sync(sorted(result.failed), depth=depth + 1)



class Writes:
    """What one ``sync`` must write: new entries and outcomes in bulk, anything else in order."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []
        self.others: list[Write] = []

    def __bool__(self) -> bool:
        return bool(self.entries or self.outcomes or self.others)

    def append(self, write: Write) -> None:
        self.others.append(write)

    def outcome(self, kind: str, queue_id: int | None, conversation_id: int, agent_id: int | None, now: datetime,
                *, media: str | None = None, wait: float | None = None, handle: float | None = None) -> None:
        self.outcomes.append({
            "queue_id": queue_id, "conversation_id": conversation_id, "agent_id": agent_id, "kind": kind,
            "media": media, "occurred_at": now, "wait_seconds": wait, "handle_seconds": handle,
            "within_target": None,
        })

    async def run(self, unit: Unit) -> None:
        # Core statements, many rows each: the ORM's per-object flush would cost the event loop
        # a tenth of a millisecond per new conversation under a busy ingest.
        if self.entries:
            await unit.session.execute(insert(RoutingEntry), self.entries)
        for write in self.others:
            await write(unit)
        if self.outcomes:
            await unit.session.execute(insert(RoutingOutcome), self.outcomes)


def _update_entry(conversation_id: int, **values: object) -> Write:
    async def write(unit: Unit) -> None:
        await unit.session.execute(
            update(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id).values(**values)
        )

    return write
