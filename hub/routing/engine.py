"""The routing core: state in, decisions out, time passed in, no I/O.

The service (``hub.routing.service``) feeds it what happened — agents' presence,
conversations entering queues, offers answered, work finished — and the clock
(``tick``); the engine answers with decisions (``hub.routing.model``) and updates its
own picture as if they had been carried out. When carrying one out fails (someone
assigned the conversation by hand meanwhile) the service tells the engine what is
true instead (``withdraw``, ``hold``, ``release``).

Invariant after every call: no waiting conversation has a free, eligible, not
excluded agent; each decision costs a few sorted-list operations, not a scan.
"""

from __future__ import annotations

import functools
import heapq
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Concatenate, ParamSpec

from hub.routing.agents import AgentState, Held
from hub.routing.lines import Item
from hub.routing.matching import Matcher, RoutingError
from hub.routing.model import (
    Capacity,
    Decision,
    Escalate,
    OfferTimedOut,
    Overflow,
    Presence,
    Requeue,
    SetAway,
)

__all__ = ["Engine", "RoutingError"]

Out = list[Decision]
P = ParamSpec("P")


def _entry(method: Callable[Concatenate[Engine, P], None]) -> Callable[Concatenate[Engine, P], Out]:
    """A public call: nested calls pile up decisions; the outermost matches and returns them."""
    position = list(inspect.signature(method).parameters).index("now") - 1

    @functools.wraps(method)
    def call(self: Engine, /, *args: P.args, **kwargs: P.kwargs) -> Out:
        self._depth += 1
        try:
            method(self, *args, **kwargs)
        finally:
            self._depth -= 1
        if self._depth:
            return []
        now = kwargs["now"] if "now" in kwargs else args[position]
        assert isinstance(now, int | float)
        return self._drain(float(now))

    return call


class Engine(Matcher):
    """Queues, agents and waiting conversations in memory; see the module docstring."""

    # --- agents ------------------------------------------------------------------

    @_entry
    def set_agent(
        self,
        agent_id: int,
        *,
        presence: Presence,
        skills: Mapping[str, int],
        queues: Iterable[int],
        capacity: Capacity,
        now: float,
        last_routed: float | None = None,
        missed: int = 0,
    ) -> None:
        """Add an agent or change their skills, queues or capacity (work they hold stays)."""
        agent = self.agents.get(agent_id)
        member_of = frozenset(q for q in queues if q in self.queues)
        if agent is None:
            agent = AgentState(
                agent_id, Presence.OFFLINE, dict(skills), member_of, capacity,
                last_routed=float("-inf") if last_routed is None else last_routed, idle_since=now, missed=missed,
            )
            self.agents[agent_id] = agent
        else:
            self._unindex(agent)
            agent.skills, agent.capacity = dict(skills), capacity
            for q in agent.queues - member_of:
                self.members[q].discard(agent_id)
            agent.queues = member_of
        for q in member_of:
            self.members[q].add(agent_id)
        self._eligible.clear()
        self._reindex(agent, now)
        self._dirty_agents.add(agent_id)
        if presence is not agent.presence:
            self.set_presence(agent_id, presence, now)

    @_entry
    def remove_agent(self, agent_id: int, now: float) -> None:
        """A deactivated user: their offers go back to the queue; held work stays theirs."""
        self.set_presence(agent_id, Presence.OFFLINE, now)
        agent = self.agents.pop(agent_id, None)
        if agent is not None:
            self._unindex(agent)
            for q in agent.queues:
                self.members[q].discard(agent_id)
            self._eligible.clear()

    @_entry
    def set_presence(self, agent_id: int, presence: Presence, now: float) -> None:
        """The agent's own presence; away/offline starts the re-routing grace period."""
        agent = self._agent(agent_id)
        if presence is agent.presence:
            return
        agent.presence = presence
        agent.presence_epoch += 1
        if presence is Presence.AVAILABLE:
            agent.missed = 0
            agent.idle_since = now
            self._dirty_agents.add(agent_id)
        else:
            for conversation_id in list(agent.offered):
                self._cancel_offer(self.items[conversation_id], "agent_" + presence.value, now)
            for conversation_id, held in agent.held.items():
                self._grace(agent, conversation_id, held, now)
        self._reindex(agent, now)

    # --- conversations ------------------------------------------------------------

    @_entry
    def enqueue(
        self,
        conversation_id: int,
        queue_id: int,
        *,
        media: str,
        realtime: bool,
        priority: int,
        since: float,
        now: float,
        channel: str = "",
        entered: float | None = None,
        step: int = 0,
        offered_to: int | None = None,
        offer_expires: float = 0.0,
    ) -> None:
        """A conversation waits in ``queue_id`` (new, re-queued, or rebuilt after a restart).

        After a restart ``step`` replays the escalation steps already taken (their
        priority raises are in ``priority`` already) and ``offered_to``/``offer_expires``
        restore an offer that is still pending.
        """
        rules = self.queues.get(queue_id)
        if rules is None:
            raise RoutingError(f"unknown queue id {queue_id}")
        if conversation_id in self.items:
            self.withdraw(conversation_id, now)
        entered = now if entered is None else entered
        item = Item(conversation_id, queue_id, media, realtime, priority, since, entered, channel=channel)
        item.epoch = next(self._seq)  # unique: timers of an earlier stay in a queue never match
        for done in rules.escalation[:step]:
            self._apply_step_state(item, done, raise_priority=False)
        item.step = min(step, len(rules.escalation))
        self.items[conversation_id] = item
        agent = self.agents.get(offered_to) if offered_to is not None else None
        if agent is not None:
            item.offered_to, item.offer_expires = agent.id, offer_expires
            agent.offered[conversation_id] = media
            agent.add(media)
            self._reindex(agent, now)
            self._timer(offer_expires, "offer", conversation_id, agent.id)
        else:
            if rules.overflow_when_nobody and not self._anyone_logged_in(item):
                self._out.append(Overflow(conversation_id, queue_id, rules.overflow_when_nobody, "nobody_logged_in"))
            self._wait(item, now)
        self._schedule_escalation(item)
        if not realtime and len(rules.fallback) > 1:
            self._timer(entered + rules.fallback_after * (item.fallback + 1), "fallback", conversation_id, item.epoch)

    @_entry
    def withdraw(self, conversation_id: int, now: float) -> None:
        """The conversation no longer waits (resolved, assigned by hand, moved): forget it."""
        item = self.items.pop(conversation_id, None)
        if item is None:
            return
        self.lines.remove(item)
        if item.offered_to is not None:
            agent = self.agents.get(item.offered_to)
            if agent is not None and agent.offered.pop(conversation_id, None) is not None:
                agent.remove(item.media)
                self._reindex(agent, now)
                self._dirty_agents.add(agent.id)

    @_entry
    def hold(
        self,
        conversation_id: int,
        agent_id: int,
        *,
        media: str,
        queue_id: int | None,
        realtime: bool,
        now: float,
        since: float | None = None,
        answered: bool = False,
    ) -> None:
        """``agent_id`` holds the conversation (assigned by hand, or known after a restart)."""
        item = self.items.get(conversation_id)
        if item is not None:
            since = item.since if since is None else since
            self.withdraw(conversation_id, now)
        self.release(conversation_id, now, wrap_up=False)
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        self._take(agent, conversation_id, Held(media, queue_id, now if since is None else since, realtime, answered))
        agent.add(media)
        self._reindex(agent, now)

    @_entry
    def release(self, conversation_id: int, now: float, *, wrap_up: bool = True) -> None:
        """The held conversation ended for its agent (resolved, pending, unassigned)."""
        for agent in self._holders(conversation_id):
            held = agent.held.pop(conversation_id)
            agent.remove(held.media)
            rules = self.queues.get(held.queue_id) if held.queue_id is not None else None
            if wrap_up and held.realtime and rules is not None and rules.wrap_up > 0:
                agent.wrap_up_until = max(agent.wrap_up_until, now + rules.wrap_up)
                self._timer(agent.wrap_up_until, "wrap_up", agent.id, 0)
            agent.idle_since = now
            self._reindex(agent, now)
            self._dirty_agents.add(agent.id)

    def mark_answered(self, conversation_id: int, answered: bool, now: float) -> None:
        """An agent replied (True) or the customer wrote again (False): re-routing looks at it.

        A customer who writes to an agent who is away or offline waits the queue's grace
        period, then the conversation goes back to the queue (``tick``).
        """
        for agent in self._holders(conversation_id):
            held = agent.held[conversation_id]
            was_answered, held.answered = held.answered, answered
            if was_answered and not answered and agent.presence is not Presence.AVAILABLE:
                self._grace(agent, conversation_id, held, now)

    @_entry
    def set_priority(self, conversation_id: int, priority: int, now: float) -> None:
        item = self.items.get(conversation_id)
        if item is not None and item.priority != priority:
            waiting = self.lines.remove(item)
            item.priority = priority
            if waiting:
                self._wait(item, now)

    # --- offers -------------------------------------------------------------------

    @_entry
    def accept(self, conversation_id: int, agent_id: int, now: float) -> None:
        """The agent took the offer (for a call: answered): they hold it now."""
        item = self._offered(conversation_id, agent_id)
        agent = self.agents[agent_id]
        agent.offered.pop(conversation_id)
        agent.missed = 0
        del self.items[conversation_id]
        self._take(agent, conversation_id, Held(item.media, item.queue_id, item.since, item.realtime, priority=item.priority))
        self._reindex(agent, now)

    @_entry
    def reject(self, conversation_id: int, agent_id: int, now: float) -> None:
        """The agent declined: the conversation waits again, not to be offered to them soon."""
        item = self._offered(conversation_id, agent_id)
        agent = self.agents[agent_id]
        agent.missed = 0
        self._return_offer(item, agent, now)

    # --- time ---------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When ``tick`` next has something to do (None: nothing scheduled)."""
        return self._timers[0][0] if self._timers else None

    @_entry
    def tick(self, now: float) -> None:
        """Run every timer due by ``now``: offer timeouts, escalation, re-routing, wrap-up."""
        while self._timers and self._timers[0][0] <= now:
            due, _, kind, ident, token = heapq.heappop(self._timers)
            getattr(self, "_on_" + kind)(ident, token, due, now)

    def _on_offer(self, conversation_id: int, agent_id: int, due: float, now: float) -> None:
        item = self.items.get(conversation_id)
        if item is None or item.offered_to != agent_id or item.offer_expires != due:
            return
        agent = self.agents[agent_id]
        agent.missed += 1
        rules = self.queues[item.queue_id]
        self._out.append(OfferTimedOut(conversation_id, agent_id, item.queue_id, agent.missed))
        self._return_offer(item, agent, now)
        if rules.away_after_missed and agent.missed >= rules.away_after_missed:
            self._out.append(SetAway(agent_id, "missed_offers"))
            self.set_presence(agent_id, Presence.AWAY, now)

    def _on_grace(self, conversation_id: int, epoch: int, due: float, now: float) -> None:
        for agent in self._holders(conversation_id):
            held = agent.held[conversation_id]
            if agent.presence_epoch != epoch or agent.presence is Presence.AVAILABLE or held.answered:
                continue
            if held.queue_id is None or held.queue_id not in self.queues:
                continue
            self._out.append(Requeue(conversation_id, agent.id, held.queue_id, "agent_" + agent.presence.value))
            self.release(conversation_id, now, wrap_up=False)
            excluded_until = now + self._exclusion_for(self.queues[held.queue_id])
            self.enqueue(
                conversation_id, held.queue_id, media=held.media, realtime=held.realtime,
                priority=held.priority, since=held.since, now=now,
            )
            self.items[conversation_id].excluded[agent.id] = excluded_until

    def _grace(self, agent: AgentState, conversation_id: int, held: Held, now: float) -> None:
        rules = self.queues.get(held.queue_id) if held.queue_id is not None else None
        if rules is not None and rules.reroute_grace >= 0 and held.media != "voice":
            self._timer(now + rules.reroute_grace, "grace", conversation_id, agent.presence_epoch)

    def _on_wrap_up(self, agent_id: int, _token: int, due: float, now: float) -> None:
        agent = self.agents.get(agent_id)
        if agent is not None and agent.wrap_up_until <= now:
            self._reindex(agent, now)
            self._dirty_agents.add(agent_id)

    def _on_retry(self, conversation_id: int, epoch: int, due: float, now: float) -> None:
        item = self.items.get(conversation_id)
        if item is not None and item.epoch == epoch and item.offered_to is None:
            self._dirty_items.add(conversation_id)

    def _on_fallback(self, conversation_id: int, epoch: int, due: float, now: float) -> None:
        item = self.items.get(conversation_id)
        if item is None or item.epoch != epoch:
            return
        rules = self.queues[item.queue_id]
        if item.fallback + 1 < len(rules.fallback):
            item.fallback += 1
        self._dirty_items.add(conversation_id)
        self._timer(now + rules.fallback_after, "fallback", conversation_id, item.epoch)

    def _on_escalate(self, conversation_id: int, epoch: int, due: float, now: float) -> None:
        item = self.items.get(conversation_id)
        if item is None or item.epoch != epoch:
            return
        rules = self.queues[item.queue_id]
        if item.step >= len(rules.escalation):
            return
        if item.offered_to is not None:  # decide once the offer is answered
            self._timer(item.offer_expires + 0.001, "escalate", conversation_id, epoch)
            return
        step = rules.escalation[item.step]
        item.step += 1
        waiting = self.lines.remove(item)
        self._apply_step_state(item, step)
        if waiting:
            self._wait(item, now)
        self._out.append(Escalate(conversation_id, item.queue_id, item.step, step, now - item.since))
        if step.overflow_to is not None and step.overflow_to != rules.name:
            self._out.append(Overflow(conversation_id, item.queue_id, step.overflow_to, f"escalation_step_{item.step}"))
        self._schedule_escalation(item)

    @_entry
    def move(self, conversation_id: int, queue_id: int, now: float) -> None:
        """The conversation moved to another queue (after ``Overflow``): route it there."""
        item = self.items.get(conversation_id)
        if item is None:
            return
        self.withdraw(conversation_id, now)
        self.enqueue(
            conversation_id, queue_id, media=item.media, realtime=item.realtime,
            priority=item.priority, since=item.since, now=now, channel=item.channel,
        )
