"""Discrete-event simulation of the real routing engine in simulated time.

Customers arrive as a Poisson process into one queue; each is routed by the same
``Engine`` the hub runs (offers for real-time work, accepted at once or after a ring
time), handled for an exponential time, and — with a patience — hangs up after an
exponential wait if nobody answered. Nothing sleeps: a day runs in well under a second
per few thousand conversations. Compare the result with ``hub.routing.erlang``.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from hub.routing.engine import Engine
from hub.routing.model import (
    Assign,
    Capacity,
    Decision,
    Offer,
    OfferCancelled,
    OfferTimedOut,
    Presence,
    QueueRules,
    Strategy,
)


@dataclass(frozen=True)
class Scenario:
    agents: int
    arrivals_per_second: float
    aht: float  # mean handle time, seconds
    target_seconds: float = 20.0
    duration: float = 86_400.0  # simulated seconds of arrivals
    max_conversations: int | None = None  # stop arriving after this many
    patience: float | None = None  # mean patience, seconds (None: nobody hangs up: Erlang C)
    ring_seconds: float = 0.0  # how long an offer rings before the agent answers
    warmup: float = 0.0  # arrivals before this are not counted
    strategy: Strategy = Strategy.ROUND_ROBIN
    seed: int = 1


@dataclass(frozen=True)
class Result:
    arrivals: int
    answered: int
    abandoned: int
    answered_in_time: int
    service_level: float  # answered within the target / (answered + abandoned)
    asa: float  # mean wait of the answered, seconds
    mean_wait_all: float  # mean wait of everyone counted (abandoned: until they hung up)
    abandonment: float
    occupancy: float  # busy agent-seconds / (agents x measured seconds)
    decisions: int
    simulated_seconds: float


QUEUE = 1
VOICE_ONLY = Capacity({"voice": 1, "chat": 0, "email": 0, "messaging": 0}, frozenset({"voice"}))


def simulate(s: Scenario) -> Result:
    """Run the scenario through the engine; see the module docstring."""
    rng = random.Random(s.seed)
    rules = QueueRules(QUEUE, "simulated", strategy=s.strategy, offer_timeout=max(60.0, s.ring_seconds * 4),
                       away_after_missed=0, reroute_grace=-1.0, service_level_seconds=s.target_seconds)
    engine = Engine([rules])
    for agent_id in range(1, s.agents + 1):
        engine.set_agent(agent_id, presence=Presence.AVAILABLE, skills={}, queues=[QUEUE], capacity=VOICE_ONLY, now=0.0)
    events: list[tuple[float, int, str, int]] = []  # (time, order, kind, conversation)
    order = 0

    def push(at: float, kind: str, cid: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, cid))

    arrived: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    counted: set[int] = set()
    waits: list[float] = []
    abandoned_waits: list[float] = []
    busy_since: dict[int, float] = {}
    busy = 0.0
    decisions = 0
    next_id = 1
    push(rng.expovariate(s.arrivals_per_second), "arrive", next_id)
    end_of_arrivals = s.duration
    now = 0.0

    def handle(out: list[Decision]) -> None:
        nonlocal decisions
        decisions += len(out)
        for d in out:
            if isinstance(d, Offer):
                push(now + s.ring_seconds, "answer", d.conversation_id)
            elif isinstance(d, Assign):
                start(d.conversation_id, d.agent_id)
            elif isinstance(d, OfferTimedOut | OfferCancelled):
                pass

    def start(cid: int, agent_id: int) -> None:
        answered_at[cid] = now
        busy_since[cid] = now
        if cid in counted:
            waits.append(now - arrived[cid])
        push(now + rng.expovariate(1.0 / s.aht), "finish", cid)

    while events or engine.next_due() is not None:
        due = engine.next_due()
        if events and (due is None or events[0][0] <= due):
            now, _, kind, cid = heapq.heappop(events)
        else:
            assert due is not None
            now = due
            handle(engine.tick(now))
            continue
        if kind == "arrive":
            if now > end_of_arrivals or (s.max_conversations is not None and cid > s.max_conversations):
                continue
            arrived[cid] = now
            if now >= s.warmup:
                counted.add(cid)
            next_id = cid + 1
            push(now + rng.expovariate(s.arrivals_per_second), "arrive", next_id)
            if s.patience is not None:
                push(now + rng.expovariate(1.0 / s.patience), "hang_up", cid)
            handle(engine.enqueue(cid, QUEUE, media="voice", realtime=True, priority=0, since=now, now=now))
        elif kind == "answer":
            item = engine.items.get(cid)
            if item is not None and item.offered_to is not None:
                agent_id = item.offered_to
                handle(engine.accept(cid, agent_id, now))
                start(cid, agent_id)
        elif kind == "hang_up":
            if cid in engine.items:  # still waiting (or ringing): the customer gives up
                if cid in counted:
                    abandoned_waits.append(now - arrived[cid])
                handle(engine.withdraw(cid, now))
        elif kind == "finish":
            if now >= s.warmup:
                busy += now - max(busy_since.pop(cid), s.warmup)
            else:
                busy_since.pop(cid)
            handle(engine.release(cid, now))
    measured = now - s.warmup  # until the last conversation ended
    answered = len(waits)
    abandoned = len(abandoned_waits)
    reached = answered + abandoned
    in_time = sum(1 for w in waits if w <= s.target_seconds)
    return Result(
        arrivals=len(counted),
        answered=answered,
        abandoned=abandoned,
        answered_in_time=in_time,
        service_level=in_time / reached if reached else math.nan,
        asa=sum(waits) / answered if answered else math.nan,
        mean_wait_all=(sum(waits) + sum(abandoned_waits)) / reached if reached else math.nan,
        abandonment=abandoned / reached if reached else 0.0,
        occupancy=busy / (s.agents * measured) if measured > 0 else math.nan,
        decisions=decisions,
        simulated_seconds=now,
    )
