"""Erlang C and Erlang A: staffing arithmetic for queues of calls and chats.

Erlang C (M/M/N): Poisson arrivals, exponential handle times, N agents, nobody hangs
up. Erlang A (M/M/N+M, "Palm"): as C, but each waiting customer abandons after an
exponential patience time, so the queue is stable even with fewer agents than load.

Traffic ``a = arrival rate × average handle time`` (Erlangs). Erlang C is computed
through the Erlang B recursion (no factorials, stable for thousands of agents);
Erlang A from its birth-death chain, summed in logarithms until the tail vanishes.
Verified against published worked examples in ``tests/routing/test_erlang.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.errors import ValidationFailed

MAX_AGENTS = 100_000


@dataclass(frozen=True)
class Staffing:
    """The figures for ``agents`` agents (before shrinkage)."""

    agents: int
    traffic: float  # Erlangs
    wait_probability: float  # P(an arrival waits at all)
    service_level: float  # P(answered within the target time) — of all arrivals
    asa: float  # average speed of answer: mean wait of all arrivals, seconds
    occupancy: float  # share of agents' time busy
    abandon_probability: float = 0.0  # Erlang A only

    def as_dict(self) -> dict[str, float | int]:
        return {
            "agents": self.agents,
            "traffic_erlangs": round(self.traffic, 6),
            "wait_probability": round(self.wait_probability, 6),
            "service_level": round(self.service_level, 6),
            "asa_seconds": round(self.asa, 3),
            "occupancy": round(self.occupancy, 6),
            "abandon_probability": round(self.abandon_probability, 6),
        }


def traffic(calls: float, interval: float, aht: float) -> float:
    """Offered load in Erlangs: ``calls`` per ``interval`` seconds, each ``aht`` seconds long."""
    if calls < 0 or interval <= 0 or aht <= 0:
        raise ValidationFailed("calls must be >= 0, interval and aht > 0")
    return calls / interval * aht


def erlang_b(agents: int, a: float) -> float:
    """Blocking probability of an M/M/N/N loss system."""
    b = 1.0
    for k in range(1, agents + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(agents: int, a: float) -> float:
    """P(wait) of an M/M/N queue; 1.0 when the agents cannot keep up (``a >= agents``)."""
    if a <= 0:
        return 0.0
    if agents <= a:
        return 1.0
    b = erlang_b(agents, a)
    return agents * b / (agents - a * (1 - b))


def erlang_c_staffing(agents: int, a: float, aht: float, target_seconds: float) -> Staffing:
    """Erlang C figures for ``agents`` agents carrying ``a`` Erlangs."""
    pw = erlang_c(agents, a)
    if agents <= a:
        return Staffing(agents, a, 1.0, 0.0, math.inf, 1.0)
    sl = 1.0 - pw * math.exp(-(agents - a) * target_seconds / aht)
    asa = pw * aht / (agents - a)
    return Staffing(agents, a, pw, sl, asa, a / agents)


def erlang_a_staffing(agents: int, a: float, aht: float, patience: float, target_seconds: float) -> Staffing:
    """Erlang A (M/M/N+M) figures; ``patience`` is the mean time a caller waits before hanging up.

    Service level here is the share of *all* arrivals answered within the target
    (abandoned calls count as not answered in time).
    """
    if patience <= 0:
        raise ValidationFailed("patience must be > 0 seconds")
    if a <= 0:
        return Staffing(agents, a, 0.0, 1.0, 0.0, 0.0)
    mu, theta = 1.0 / aht, 1.0 / patience
    lam = a * mu
    # log pi_n up to a constant: pi_n = pi_{n-1} * lam / (min(n, N) mu + max(n - N, 0) theta)
    logs = [0.0]
    n = 0
    while True:
        n += 1
        rate = min(n, agents) * mu + max(n - agents, 0) * theta
        logs.append(logs[-1] + math.log(lam / rate))
        if n > agents and logs[-1] < max(logs) - 50:  # e^-50: the tail no longer counts
            break
    peak = max(logs)
    weights = [math.exp(v - peak) for v in logs]
    total = sum(weights)
    probs = [w / total for w in weights]
    wait = sum(probs[agents:])
    queue_length = sum((k - agents) * p for k, p in enumerate(probs) if k > agents)
    abandon = theta * queue_length / lam
    asa = queue_length / lam  # Little's law over all arrivals
    busy = sum(min(k, agents) * p for k, p in enumerate(probs))
    answered_in_time = _waited_but_answered_in_time(probs, agents, mu, theta, target_seconds)
    service_level = (1.0 - wait) + answered_in_time
    return Staffing(agents, a, wait, _clamp(service_level), asa, busy / agents, _clamp(abandon))


def _waited_but_answered_in_time(probs: list[float], agents: int, mu: float, theta: float, t: float) -> float:
    """P(an arrival waits, then is answered within t); arrivals see the steady state (PASTA)."""
    total = 0.0
    for k in range(agents, len(probs)):
        if probs[k] >= 1e-12:
            total += probs[k] * _served_within(k - agents, agents * mu, theta, t)
    return total


def _served_within(ahead: int, base: float, theta: float, t: float) -> float:
    """P(reach service within t) for a waiting caller with ``ahead`` callers before them.

    States i = ahead .. 0 (callers ahead); from i, the next one ahead leaves at rate
    ``base + i*theta``; our caller abandons at ``theta`` in every state. Absorption into
    "served" happens from state 0 at rate ``base``.
    """
    states = ahead + 1
    rates = [base + i * theta for i in range(states)]  # leaving state i (towards i-1, or service from 0)
    exit_rate = [r + theta for r in rates]
    uniform = max(exit_rate)
    if uniform * t > 700:
        # so many events in t that the caller is surely either served or gone: use the embedded chain
        served = 1.0
        for i in range(states):
            served *= rates[i] / exit_rate[i]
        return served
    dist = [0.0] * states
    dist[ahead] = 1.0
    served = 0.0
    poisson = math.exp(-uniform * t)
    cumulative = poisson
    term = poisson
    step = 0
    reached = 0.0  # P(absorbed into served after ``step`` uniformized steps)
    while cumulative < 1 - 1e-12 and step < 100_000:
        new = [0.0] * states
        absorbed = 0.0
        for i in range(states):
            mass = dist[i]
            if not mass:
                continue
            new[i] += mass * (1 - exit_rate[i] / uniform)
            if i == 0:
                absorbed += mass * rates[0] / uniform
            else:
                new[i - 1] += mass * rates[i] / uniform
        dist = new
        reached += absorbed
        step += 1
        term *= uniform * t / step
        cumulative += term
        served += term * reached
    return served + (1 - cumulative) * reached


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def required_agents(
    *, calls: float, interval: float, aht: float, target_sl: float, target_seconds: float,
    max_occupancy: float = 1.0, shrinkage: float = 0.0, patience: float | None = None,
) -> tuple[Staffing, int]:
    """The fewest agents meeting the service level and occupancy cap, and the staff to schedule.

    Returns the figures for that number of agents and ``ceil(agents / (1 - shrinkage))``.
    With ``patience`` the model is Erlang A, else Erlang C.
    """
    if not 0 < target_sl < 1:
        raise ValidationFailed("target service level must be between 0 and 1 (e.g. 0.8)")
    if not 0 < max_occupancy <= 1:
        raise ValidationFailed("max occupancy must be above 0 and at most 1")
    if not 0 <= shrinkage < 1:
        raise ValidationFailed("shrinkage must be at least 0 and below 1")
    if target_seconds < 0:
        raise ValidationFailed("target seconds must not be negative")
    a = traffic(calls, interval, aht)
    agents = max(1, math.floor(a) + 1 if patience is None else math.ceil(a * 0.5))
    while agents <= MAX_AGENTS:
        figures = (
            erlang_c_staffing(agents, a, aht, target_seconds)
            if patience is None
            else erlang_a_staffing(agents, a, aht, patience, target_seconds)
        )
        if figures.service_level >= target_sl and figures.occupancy <= max_occupancy:
            return figures, math.ceil(agents / (1 - shrinkage) - 1e-9)
        agents += 1
    raise ValidationFailed(f"more than {MAX_AGENTS} agents would be needed")
