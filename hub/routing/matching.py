"""The engine's state and its matching: who gets what, kept cheap by sorted indexes.

``Matcher`` holds queues, agents, waiting items, the free-agent and waiting-line
indexes (``hub.routing.lines``) and the timer heap; ``hub.routing.engine.Engine``
adds the public calls and the timer handlers on top. Everything here is internal.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

from hub.routing.agents import AgentState, Held
from hub.routing.lines import FreeAgents, Item, Lines, Variant
from hub.routing.model import (
    MEDIA,
    Assign,
    Decision,
    EscalationStep,
    Fallback,
    Offer,
    OfferCancelled,
    Presence,
    QueueRules,
    Strategy,
)
from hub.routing.skills import SkillExpression


class RoutingError(Exception):
    """A call that does not fit the engine's state (an offer that no longer exists)."""


class Matcher:
    """State and matching of the routing core (see the module docstring)."""

    def __init__(self, queues: Sequence[QueueRules], *, exclusion_seconds: float | None = None) -> None:
        self.queues: dict[int, QueueRules] = {q.id: q for q in queues}
        self.queue_ids: dict[str, int] = {q.name: q.id for q in queues}
        self.agents: dict[int, AgentState] = {}
        self.items: dict[int, Item] = {}
        self.lines = Lines()
        self.free = FreeAgents()
        self.members: dict[int, set[int]] = {q.id: set() for q in queues}
        self._eligible: dict[tuple[int, Variant], frozenset[int]] = {}
        self._timers: list[tuple[float, int, str, int, int]] = []
        self._seq = itertools.count()
        self._exclusion = exclusion_seconds
        self._out: list[Decision] = []
        self._dirty_items: set[int] = set()
        self._dirty_agents: set[int] = set()
        self._depth = 0
        self._routed_at = float("-inf")  # strictly increasing, so round robin never sees a tie
        self._holder: dict[int, int] = {}  # conversation id -> the agent holding it
        self._expressions: dict[str, SkillExpression] = {}
        for rules in queues:
            for expression in (rules.skills, *(step.skills for step in rules.escalation)):
                if expression is not None:
                    self._expressions[expression.source] = expression

    # --- matching -----------------------------------------------------------------

    def _drain(self, now: float) -> list[Decision]:
        while self._dirty_items or self._dirty_agents:
            items = sorted(
                (self.items[c] for c in self._dirty_items if c in self.items),
                key=lambda it: (-(it.priority + self.queues[it.queue_id].priority), it.since),
            )
            self._dirty_items.clear()
            for item in items:
                if item.offered_to is None and item.conversation_id in self.items:
                    self._place(item, now)
            agents = sorted(self._dirty_agents)
            self._dirty_agents.clear()
            for agent_id in agents:
                agent = self.agents.get(agent_id)
                if agent is not None:
                    self._fill(agent, now)
        out, self._out = self._out, []
        return out

    def _place(self, item: Item, now: float) -> bool:
        """Find the best free agent for ``item``; offer or assign it. False: it waits."""
        rules = self.queues[item.queue_id]
        eligible = self.eligible(item.queue_id, item.variant(rules.skills))
        for agent_id in self.free.ordered(item.queue_id, item.media):
            agent = self.agents[agent_id]
            if agent_id in eligible and not item.excludes(agent_id, now) and agent.can_take(
                item.media, now, realtime=item.realtime
            ):
                self._give(item, agent, now)
                return True
        if not item.realtime and item.fallback > 0:
            allowed = {Presence.AVAILABLE}
            for level in rules.fallback[: item.fallback + 1]:
                if level is Fallback.AWAY:
                    allowed.add(Presence.AWAY)
                elif level is Fallback.ANYONE:
                    allowed.update((Presence.AWAY, Presence.OFFLINE))
            candidates = [
                self.agents[a] for a in eligible
                if self.agents[a].presence in allowed and not item.excludes(a, now)
                and self.agents[a].has_room(item.media, now)
            ]
            if candidates:
                best = min(candidates, key=lambda a: self._strategy_key(rules, a))
                self._give(item, best, now, fallback=rules.fallback[item.fallback])
                return True
        return False

    def _fill(self, agent: AgentState, now: float) -> None:
        """Give a freed agent the best waiting conversations they qualify for, while room lasts."""
        while True:
            best: tuple[tuple[int, float], Item] | None = None
            for media in MEDIA:
                if not agent.can_take(media, now, realtime=False):
                    continue
                for queue_id in agent.queues:
                    rules = self.queues[queue_id]
                    for variant in self.lines.variants(queue_id):
                        if agent.id not in self.eligible(queue_id, variant):
                            continue
                        for realtime in (False, True):
                            if realtime and agent.offered:
                                continue  # one offer at a time
                            for item in self.lines.line(queue_id, media, variant, realtime):
                                if item.excludes(agent.id, now):
                                    continue
                                rank = (-(item.priority + rules.priority), item.since)
                                if best is None or rank < best[0]:
                                    best = (rank, item)
                                break
            if best is None:
                return
            self._give(best[1], agent, now)

    def _give(self, item: Item, agent: AgentState, now: float, *, fallback: Fallback = Fallback.AVAILABLE) -> None:
        self.lines.remove(item)
        self._routed_at = max(now, self._routed_at + 1e-6)
        agent.last_routed = self._routed_at
        agent.add(item.media)
        rules = self.queues[item.queue_id]
        if item.realtime:
            item.offered_to = agent.id
            item.offer_expires = now + rules.offer_timeout
            agent.offered[item.conversation_id] = item.media
            self._timer(item.offer_expires, "offer", item.conversation_id, agent.id)
            self._out.append(Offer(item.conversation_id, agent.id, item.queue_id, item.offer_expires, now - item.since))
        else:
            del self.items[item.conversation_id]
            self._take(agent, item.conversation_id, Held(item.media, item.queue_id, item.since, False, priority=item.priority))
            self._out.append(Assign(item.conversation_id, agent.id, item.queue_id, now - item.since, fallback))
        self._reindex(agent, now)

    def _return_offer(self, item: Item, agent: AgentState, now: float) -> None:
        agent.offered.pop(item.conversation_id, None)
        agent.remove(item.media)
        item.offered_to = None
        item.excluded[agent.id] = now + self._exclusion_for(self.queues[item.queue_id])
        self._timer(item.excluded[agent.id], "retry", item.conversation_id, item.epoch)
        self._wait(item, now)
        self._reindex(agent, now)
        self._dirty_agents.add(agent.id)

    def _cancel_offer(self, item: Item, reason: str, now: float) -> None:
        assert item.offered_to is not None
        agent = self.agents[item.offered_to]
        self._out.append(OfferCancelled(item.conversation_id, agent.id, item.queue_id, reason))
        agent.offered.pop(item.conversation_id, None)
        agent.remove(item.media)
        item.offered_to = None
        self._wait(item, now)

    def _wait(self, item: Item, now: float) -> None:
        self.lines.add(item, item.variant(self.queues[item.queue_id].skills))
        self._dirty_items.add(item.conversation_id)

    # --- indexes ------------------------------------------------------------------

    def eligible(self, queue_id: int, variant: Variant) -> frozenset[int]:
        """Members of the queue whose skills meet ``variant`` (cached until skills change)."""
        cached = self._eligible.get((queue_id, variant))
        if cached is None:
            expression = self._expression(queue_id, variant[0])
            cached = frozenset(
                a for a in self.members[queue_id]
                if expression is None or expression.matches(self.agents[a].skills, variant[1])
            )
            self._eligible[(queue_id, variant)] = cached
        return cached

    def _expression(self, queue_id: int, source: str) -> SkillExpression | None:
        return self._expressions[source] if source else None

    def _strategy_key(self, rules: QueueRules, agent: AgentState) -> tuple[object, ...]:
        if rules.strategy is Strategy.LEAST_BUSY:
            return (agent.busy_share(), agent.last_routed, agent.id)
        if rules.strategy is Strategy.LONGEST_IDLE:
            return (agent.idle_since, agent.id)
        if rules.strategy is Strategy.BEST_SKILL:
            score = rules.skills.score(agent.skills) if rules.skills is not None else 0
            return (-score, agent.last_routed, agent.id)
        return (agent.last_routed, agent.id)

    def _reindex(self, agent: AgentState, now: float) -> None:
        available = agent.presence is Presence.AVAILABLE
        room = {m: available and agent.has_room(m, now) for m in MEDIA if agent.capacity.limit(m) > 0}
        for queue_id in agent.queues:
            key = self._strategy_key(self.queues[queue_id], agent) if available else None
            for media, free in room.items():
                self.free.set(agent.id, queue_id, media, key if free else None)

    def _unindex(self, agent: AgentState) -> None:
        for queue_id in agent.queues:
            for media in MEDIA:
                self.free.set(agent.id, queue_id, media, None)

    def _apply_step_state(self, item: Item, step: EscalationStep, *, raise_priority: bool = True) -> None:
        item.relief += step.relief
        if step.skills is not None:
            item.skills = step.skills
        if raise_priority:
            item.priority += step.raise_priority

    def _schedule_escalation(self, item: Item) -> None:
        steps = self.queues[item.queue_id].escalation
        if item.step < len(steps):
            self._timer(item.entered + steps[item.step].after, "escalate", item.conversation_id, item.epoch)

    def _anyone_logged_in(self, item: Item) -> bool:
        eligible = self.eligible(item.queue_id, item.variant(self.queues[item.queue_id].skills))
        return any(self.agents[a].presence is not Presence.OFFLINE for a in eligible)

    def _exclusion_for(self, rules: QueueRules) -> float:
        return self._exclusion if self._exclusion is not None else max(rules.offer_timeout, 30.0)

    def _timer(self, due: float, kind: str, ident: int, token: int) -> None:
        heapq.heappush(self._timers, (due, next(self._seq), kind, ident, token))

    def _agent(self, agent_id: int) -> AgentState:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id}")
        return agent

    def _offered(self, conversation_id: int, agent_id: int) -> Item:
        item = self.items.get(conversation_id)
        if item is None or item.offered_to != agent_id:
            raise RoutingError(f"conversation {conversation_id} is not offered to agent {agent_id}")
        return item

    def holder_of(self, conversation_id: int) -> int | None:
        """The agent the engine believes holds the conversation."""
        holders = self._holders(conversation_id)
        return holders[0].id if holders else None

    def _holders(self, conversation_id: int) -> list[AgentState]:
        agent_id = self._holder.get(conversation_id)
        agent = self.agents.get(agent_id) if agent_id is not None else None
        return [agent] if agent is not None and conversation_id in agent.held else []

    def _take(self, agent: AgentState, conversation_id: int, held: Held) -> None:
        agent.held[conversation_id] = held
        self._holder[conversation_id] = agent.id
