"""The pure routing core with an injected clock: strategies, capacity, offers, re-routing.

Times are plain seconds; nothing sleeps, so hours of queue time run in milliseconds.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from hub.routing.engine import Engine, RoutingError
from hub.routing.model import (
    Assign,
    Capacity,
    Decision,
    Fallback,
    Offer,
    OfferCancelled,
    OfferTimedOut,
    Overflow,
    Presence,
    QueueRules,
    Requeue,
    SetAway,
    Strategy,
)
from hub.routing.skills import parse_skills

EMAIL_ONLY = Capacity({"voice": 0, "chat": 0, "email": 1, "messaging": 0}, frozenset())
DEFAULT = Capacity()


def engine_with(*queues: QueueRules, agents: int = 3, capacity: Capacity = DEFAULT, skills: dict[str, int] | None = None,
                now: float = 0.0) -> Engine:
    engine = Engine(list(queues) or [QueueRules(1, "support")])
    for agent_id in range(1, agents + 1):
        engine.set_agent(agent_id, presence=Presence.AVAILABLE, skills=skills or {}, queues=[q.id for q in engine.queues.values()],
                         capacity=capacity, now=now)
    return engine


def email(engine: Engine, cid: int, now: float, *, queue: int = 1, priority: int = 0, since: float | None = None) -> list[Decision]:
    return engine.enqueue(cid, queue, media="email", realtime=False, priority=priority,
                          since=now if since is None else since, now=now)


def chat(engine: Engine, cid: int, now: float, *, queue: int = 1) -> list[Decision]:
    return engine.enqueue(cid, queue, media="chat", realtime=True, priority=0, since=now, now=now)


def assigned(decisions: list[Decision]) -> list[tuple[int, int]]:
    return [(d.conversation_id, d.agent_id) for d in decisions if isinstance(d, Assign)]


def test_round_robin_is_fair_over_ten_thousand_assignments() -> None:
    engine = engine_with(agents=7, capacity=EMAIL_ONLY)
    counts: Counter[int] = Counter()
    for n in range(10_000):
        now = float(n)
        (cid, agent), = assigned(email(engine, n, now))
        counts[agent] += 1
        engine.release(cid, now + 0.5)
    assert set(counts) == set(range(1, 8))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_round_robin_continues_where_it_stopped_after_a_restart() -> None:
    first = engine_with(agents=3, capacity=EMAIL_ONLY)
    order = []
    for n in range(4):
        (cid, agent), = assigned(email(first, n, float(n)))
        order.append(agent)
        first.release(cid, n + 0.5)
    assert order == [1, 2, 3, 1]
    # a new process loads each agent's last_routed (persisted in routing_agents)
    second = Engine([QueueRules(1, "support")])
    for agent in first.agents.values():
        second.set_agent(agent.id, presence=Presence.AVAILABLE, skills={}, queues=[1], capacity=EMAIL_ONLY,
                         now=10.0, last_routed=agent.last_routed)
    assert assigned(email(second, 99, 11.0)) == [(99, 2)]


def test_least_busy_prefers_the_smaller_share_of_capacity_in_use() -> None:
    engine = engine_with(QueueRules(1, "support", strategy=Strategy.LEAST_BUSY), agents=2)
    engine.hold(50, 1, media="email", queue_id=1, realtime=False, now=0.0)
    engine.hold(51, 1, media="email", queue_id=1, realtime=False, now=0.0)
    engine.hold(52, 2, media="email", queue_id=1, realtime=False, now=0.0)
    assert assigned(email(engine, 1, 1.0)) == [(1, 2)]


def test_longest_idle_prefers_who_has_been_free_longest() -> None:
    engine = engine_with(QueueRules(1, "support", strategy=Strategy.LONGEST_IDLE), agents=3, capacity=EMAIL_ONLY)
    for cid, agent in ((10, 1), (11, 2), (12, 3)):
        engine.hold(cid, agent, media="email", queue_id=1, realtime=False, now=0.0)
    engine.release(12, 5.0)
    engine.release(10, 7.0)
    engine.release(11, 9.0)
    assert assigned(email(engine, 1, 10.0)) == [(1, 3)]


def test_best_skill_prefers_the_highest_levels_in_the_named_skills() -> None:
    rules = QueueRules(1, "support", skills=parse_skills('language == "de"'), strategy=Strategy.BEST_SKILL)
    engine = Engine([rules])
    for agent_id, level in ((1, 2), (2, 9), (3, 5)):
        engine.set_agent(agent_id, presence=Presence.AVAILABLE, skills={"language.de": level}, queues=[1],
                         capacity=EMAIL_ONLY, now=0.0)
    assert assigned(email(engine, 1, 1.0)) == [(1, 2)]
    assert assigned(email(engine, 2, 2.0)) == [(2, 3)]


def test_only_members_with_the_required_skills_get_the_work() -> None:
    rules = QueueRules(1, "support", skills=parse_skills('language == "de" and product in ["billing"]'))
    engine = Engine([rules, QueueRules(2, "other")])
    engine.set_agent(1, presence=Presence.AVAILABLE, skills={"language.de": 1}, queues=[1], capacity=DEFAULT, now=0.0)
    engine.set_agent(2, presence=Presence.AVAILABLE, skills={"language.de": 1, "product.billing": 1}, queues=[2],
                     capacity=DEFAULT, now=0.0)
    assert assigned(email(engine, 1, 1.0)) == []
    engine.set_agent(3, presence=Presence.AVAILABLE, skills={"language.de": 1, "product.billing": 1}, queues=[1],
                     capacity=DEFAULT, now=2.0)
    assert 1 not in engine.items and engine.holder_of(1) == 3


def test_higher_priority_then_longer_wait_goes_first() -> None:
    engine = engine_with(agents=1, capacity=EMAIL_ONLY)
    engine.set_presence(1, Presence.AWAY, 0.0)
    email(engine, 1, 1.0)
    email(engine, 2, 2.0, priority=5)
    email(engine, 3, 0.5)  # waited longest
    order = []
    decisions = engine.set_presence(1, Presence.AVAILABLE, 3.0)
    for step in range(3):
        ((cid, _),) = assigned(decisions)
        order.append(cid)
        decisions = engine.release(cid, 4.0 + step)
    assert order == [2, 3, 1]


def test_queue_priority_adds_to_the_conversation_priority_across_queues() -> None:
    engine = engine_with(QueueRules(1, "general"), QueueRules(2, "vip", priority=10), agents=1, capacity=EMAIL_ONLY)
    engine.set_presence(1, Presence.AWAY, 0.0)
    email(engine, 1, 1.0, queue=1, priority=5)
    email(engine, 2, 2.0, queue=2)
    assert assigned(engine.set_presence(1, Presence.AVAILABLE, 3.0)) == [(2, 1)]


def test_capacity_per_medium_and_blocking_calls_are_never_exceeded() -> None:
    rng = random.Random(7)
    capacity = Capacity({"voice": 1, "chat": 2, "email": 3, "messaging": 0}, frozenset({"voice"}))
    engine = engine_with(agents=4, capacity=capacity)
    held: dict[int, tuple[int, str]] = {}
    offered: dict[int, tuple[int, str]] = {}
    media_of: dict[int, str] = {}
    for step in range(3000):
        now = float(step)
        action = rng.random()
        if action < 0.5:
            media = rng.choice(["voice", "chat", "email"])
            media_of[step] = media
            decisions = engine.enqueue(step, 1, media=media, realtime=media != "email", priority=rng.randint(0, 2),
                                       since=now, now=now)
        elif action < 0.75 and offered:
            cid = rng.choice(sorted(offered))
            agent, media = offered.pop(cid)
            decisions = engine.accept(cid, agent, now)
            held[cid] = (agent, media)
        elif held:
            cid = rng.choice(sorted(held))
            del held[cid]
            decisions = engine.release(cid, now)
        else:
            decisions = engine.tick(now)
        decisions += engine.tick(now)
        for d in decisions:
            if isinstance(d, Offer):
                assert held_or_offered_voice(d.agent_id, held, offered) is False, "a call blocks all other work"
                offered[d.conversation_id] = (d.agent_id, media_of[d.conversation_id])
            elif isinstance(d, Assign):
                assert held_or_offered_voice(d.agent_id, held, offered) is False
                held[d.conversation_id] = (d.agent_id, media_of[d.conversation_id])
            elif isinstance(d, OfferTimedOut | OfferCancelled):
                offered.pop(d.conversation_id, None)
        for agent in range(1, 5):
            load = Counter(m for a, m in (*held.values(), *offered.values()) if a == agent)
            for media, count in load.items():
                assert count <= capacity.limit(media), (agent, media, load)


def held_or_offered_voice(agent: int, held: dict[int, tuple[int, str]], offered: dict[int, tuple[int, str]]) -> bool:
    return any(a == agent and m == "voice" for a, m in (*held.values(), *offered.values()))


def test_an_offer_times_out_to_the_next_agent_and_repeated_misses_set_the_agent_away() -> None:
    engine = engine_with(QueueRules(1, "chat", offer_timeout=20.0, away_after_missed=2), agents=2)
    (offer,) = [d for d in chat(engine, 1, 0.0) if isinstance(d, Offer)]
    assert (offer.agent_id, offer.expires_at) == (1, 20.0)
    decisions = engine.tick(20.0)
    assert OfferTimedOut(1, 1, 1, 1) in decisions
    (again,) = [d for d in decisions if isinstance(d, Offer)]
    assert again.agent_id == 2  # the agent who missed it is not asked again at once
    engine.accept(1, 2, 25.0)
    (second,) = [d for d in chat(engine, 2, 30.0) if isinstance(d, Offer)]
    assert second.agent_id == 1
    decisions = engine.tick(50.0)
    assert SetAway(1, "missed_offers") in decisions
    assert engine.agents[1].presence is Presence.AWAY


def test_a_rejected_offer_goes_to_the_next_agent_and_the_rejecter_is_spared_for_a_while() -> None:
    engine = engine_with(QueueRules(1, "chat", offer_timeout=20.0), agents=2)
    chat(engine, 1, 0.0)
    decisions = engine.reject(1, 1, 1.0)
    assert [(d.agent_id) for d in decisions if isinstance(d, Offer)] == [2]
    decisions = engine.reject(1, 2, 2.0)
    assert not [d for d in decisions if isinstance(d, Offer)]  # both declined recently: it waits
    retry = engine.tick(31.0)  # the first agent's exclusion (30 s) has run out
    assert [(d.agent_id) for d in retry if isinstance(d, Offer)] == [1]
    with pytest.raises(RoutingError):
        engine.accept(1, 2, 32.0)


def test_going_away_takes_back_the_pending_offer_and_after_the_grace_period_unanswered_work() -> None:
    engine = engine_with(QueueRules(1, "support", reroute_grace=60.0), agents=2, capacity=EMAIL_ONLY)
    engine.set_presence(2, Presence.AWAY, 0.0)
    assert assigned(email(engine, 1, 1.0)) == [(1, 1)]
    engine.set_presence(2, Presence.AVAILABLE, 2.0)
    engine.hold(2, 2, media="email", queue_id=1, realtime=False, now=2.0, answered=True)
    engine.set_presence(1, Presence.AWAY, 10.0)
    engine.set_presence(2, Presence.OFFLINE, 10.0)
    assert engine.tick(69.0) == []
    decisions = engine.tick(70.0)
    assert Requeue(1, 1, 1, "agent_away") in decisions  # the answered one (2) stays with its agent
    assert 1 in engine.items and engine.holder_of(2) == 2


def test_a_customer_writing_to_an_absent_agent_gets_another_after_the_grace_period() -> None:
    engine = engine_with(QueueRules(1, "support", reroute_grace=60.0), agents=2, capacity=EMAIL_ONLY)
    engine.hold(1, 1, media="email", queue_id=1, realtime=False, now=0.0, answered=True)
    engine.set_presence(1, Presence.AWAY, 10.0)
    assert engine.tick(500.0) == []  # answered: the customer is not waiting
    engine.mark_answered(1, False, 1000.0)  # the customer writes again
    decisions = engine.tick(1060.0)
    assert Requeue(1, 1, 1, "agent_away") in decisions
    assert assigned(decisions) == [(1, 2)]


def test_coming_back_within_the_grace_period_keeps_the_work() -> None:
    engine = engine_with(QueueRules(1, "support", reroute_grace=60.0), agents=1, capacity=EMAIL_ONLY)
    email(engine, 1, 0.0)
    engine.set_presence(1, Presence.AWAY, 10.0)
    engine.set_presence(1, Presence.AVAILABLE, 30.0)
    assert engine.tick(100.0) == []
    assert engine.holder_of(1) == 1


def test_away_agents_pending_chat_offer_returns_to_the_queue_at_once() -> None:
    engine = engine_with(QueueRules(1, "chat"), agents=2)
    chat(engine, 1, 0.0)
    decisions = engine.set_presence(1, Presence.OFFLINE, 1.0)
    assert OfferCancelled(1, 1, 1, "agent_offline") in decisions
    assert [d.agent_id for d in decisions if isinstance(d, Offer)] == [2]


def test_escalation_widens_levels_then_replaces_skills() -> None:
    rules = QueueRules(
        1, "support", skills=parse_skills("language.de >= 5"),
        escalation=(
            replace_step(after=60.0, relief=2),
            replace_step(after=120.0, skills=parse_skills('language == "en"')),
        ),
    )
    engine = Engine([rules])
    engine.set_agent(1, presence=Presence.AVAILABLE, skills={"language.de": 3}, queues=[1], capacity=EMAIL_ONLY, now=0.0)
    engine.set_agent(2, presence=Presence.AVAILABLE, skills={"language.en": 1}, queues=[1], capacity=EMAIL_ONLY, now=0.0)
    assert assigned(email(engine, 1, 0.0)) == []
    decisions = engine.tick(60.0)
    assert assigned(decisions) == [(1, 1)]  # de 3 meets ">= 5" widened by 2
    email(engine, 2, 61.0)
    assert assigned(engine.tick(121.0)) == []
    assert assigned(engine.tick(181.0)) == [(2, 2)]  # step 2 asks for English instead


def replace_step(**changes: object) -> object:
    from hub.routing.model import EscalationStep

    return replace(EscalationStep(after=0.0), **changes)


def test_escalation_raises_priority_alerts_and_overflows() -> None:
    rules = QueueRules(
        1, "support",
        escalation=(replace_step(after=30.0, raise_priority=5, alert=True), replace_step(after=90.0, overflow_to="backup")),
    )
    engine = Engine([rules, QueueRules(2, "backup")])
    email(engine, 1, 0.0)
    email(engine, 2, 10.0, priority=3)
    first = engine.tick(30.0)
    (step,) = [d for d in first if getattr(d, "step", None) == 1]
    assert step.rule.alert and engine.items[1].priority == 5
    assert [d for d in engine.tick(90.0) if isinstance(d, Overflow)] == [Overflow(1, 1, "backup", "escalation_step_2")]
    engine.move(1, 2, 90.0)
    assert engine.items[1].queue_id == 2 and engine.items[1].step == 0


def test_overflow_when_nobody_is_logged_in() -> None:
    engine = engine_with(QueueRules(1, "support", overflow_when_nobody="backup"), QueueRules(2, "backup"), agents=1)
    engine.set_presence(1, Presence.OFFLINE, 0.0)
    assert Overflow(1, 1, "backup", "nobody_logged_in") in email(engine, 1, 1.0)


def test_availability_fallback_widens_to_away_then_anyone() -> None:
    rules = QueueRules(1, "support", fallback=(Fallback.AVAILABLE, Fallback.AWAY, Fallback.ANYONE), fallback_after=100.0)
    engine = engine_with(rules, agents=2, capacity=EMAIL_ONLY)
    engine.set_presence(1, Presence.AWAY, 0.0)
    engine.set_presence(2, Presence.OFFLINE, 0.0)
    email(engine, 1, 0.0)
    email(engine, 2, 0.0)
    decisions = engine.tick(100.0)
    assert [(d.agent_id, d.fallback) for d in decisions if isinstance(d, Assign)] == [(1, Fallback.AWAY)]
    decisions = engine.tick(200.0)
    assert [(d.agent_id, d.fallback) for d in decisions if isinstance(d, Assign)] == [(2, Fallback.ANYONE)]


def test_no_fallback_means_offline_agents_never_get_work() -> None:
    engine = engine_with(agents=1, capacity=EMAIL_ONLY)
    engine.set_presence(1, Presence.OFFLINE, 0.0)
    email(engine, 1, 0.0)
    assert engine.tick(100_000.0) == []


def test_wrap_up_keeps_new_work_away_until_it_ends() -> None:
    engine = engine_with(QueueRules(1, "chat", wrap_up=30.0), agents=1)
    chat(engine, 1, 0.0)
    engine.accept(1, 1, 1.0)
    engine.release(1, 100.0)
    assert [d for d in chat(engine, 2, 101.0) if isinstance(d, Offer)] == []
    assert engine.agents[1].activity(101.0).value == "wrap_up"
    assert [d.agent_id for d in engine.tick(130.0) if isinstance(d, Offer)] == [1]


def test_a_day_of_queue_time_runs_in_milliseconds_and_loses_nothing() -> None:
    rng = random.Random(1)
    engine = engine_with(QueueRules(1, "chat", away_after_missed=0), agents=5,
                         capacity=Capacity({"voice": 0, "chat": 2, "email": 0, "messaging": 0}, frozenset()))
    now, cid = 0.0, 0
    ends: list[tuple[float, int]] = []
    answered: set[int] = set()
    offers: dict[int, int] = {}

    def note(decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, Offer):
                offers[d.conversation_id] = d.agent_id
            elif isinstance(d, OfferTimedOut | OfferCancelled):
                offers.pop(d.conversation_id, None)

    while now < 86_400:
        now += rng.expovariate(1 / 60)
        cid += 1
        note(chat(engine, cid, now) + engine.tick(now))
        for c, agent in sorted(offers.items()):
            if rng.random() < 0.9:
                del offers[c]
                note(engine.accept(c, agent, now))
                answered.add(c)
                ends.append((now + rng.expovariate(1 / 300), c))
        for end, c in sorted(e for e in ends if e[0] <= now):
            ends.remove((end, c))
            note(engine.release(c, end))
    waiting = set(engine.items)
    assert answered | waiting | {c for c, _ in ends} >= set(range(1, cid + 1)) - set(offers)
    assert len(answered) > 1000
