"""SLA policies and clocks, folded from a conversation's append-only event log.

``sla_state(policy, facts, now)`` is pure: the same events give the same answer, so a
report can rebuild any conversation's SLA at any moment. The clock runs only while the
conversation is open *and* the policy's calendar is open; pending and snoozed pause
it, resolved stops it. Only a human reply (a non-private message with an author) or
an answered call (the ``call.updated`` that moves it to ``talking``, or ends it as
answered when the source reported only the end) meets a response target.

- ``first_response``: from opening to the first human reply.
- ``next_response``: from each customer message that follows a human reply to the
  next human reply; the latest cycle is reported, with the number missed before.
- ``resolution``: from opening to resolved (a reopened conversation's clock goes on).

States: ``active`` (running, below the warning share), ``warning``, ``hit`` (met in
time), ``missed`` (over the target, met or not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from hub import events as ev
from hub.errors import ConfigError
from hub.routing.calendar import ALWAYS, Calendar
from hub.routing.options import Options

Target = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[Target, ...] = ("first_response", "next_response", "resolution")
State = Literal["active", "warning", "hit", "missed"]
FactKind = Literal["opened", "customer", "reply", "status"]


@dataclass(frozen=True)
class SlaPolicy:
    name: str
    goals: Mapping[Target, float]  # seconds of open calendar time
    calendar: Calendar = ALWAYS
    warning_share: float = 0.8
    queues: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    media: tuple[str, ...] = ()

    def applies(self, *, queue: str | None, priority: int, channel: str | None, media: str | None) -> bool:
        return (
            (not self.queues or queue in self.queues)
            and (not self.priorities or priority in self.priorities)
            and (not self.channels or channel in self.channels)
            and (not self.media or media in self.media)
        )


def select_policy(
    policies: Sequence[SlaPolicy], *, queue: str | None, priority: int, channel: str | None, media: str | None
) -> SlaPolicy | None:
    """The first policy that applies (order them from specific to general)."""
    for policy in policies:
        if policy.applies(queue=queue, priority=priority, channel=channel, media=media):
            return policy
    return None


@dataclass(frozen=True, slots=True)
class Fact:
    """One SLA-relevant event: ``status`` carries the new status for kind ``status``."""

    at: datetime
    kind: FactKind
    status: str | None = None


@dataclass(frozen=True)
class TargetState:
    target: Target
    state: State
    goal: float
    elapsed: float  # open seconds counted so far (up to the moment it was met)
    running: bool  # the clock runs now (open, not met; the calendar may still be closed)
    due_at: datetime | None  # when it will be missed if nothing happens (running clocks only)
    warn_at: datetime | None
    met_at: datetime | None
    started_at: datetime  # when this target's clock (or next-response cycle) started
    missed_before: int = 0  # next_response: earlier cycles that were missed


def facts_from_events(events: Iterable[ev.Event]) -> list[Fact]:
    """The facts in a conversation's events, in order."""
    facts = []
    for event in events:
        if event.type == ev.CONVERSATION_CREATED:
            facts.append(Fact(event.occurred_at, "opened"))
        elif event.type == ev.MESSAGE_RECEIVED:
            facts.append(Fact(event.occurred_at, "customer"))
        elif event.type == ev.MESSAGE_CREATED:
            if not event.data.get("private") and event.data.get("author_user_id") is not None:
                facts.append(Fact(event.occurred_at, "reply"))
        elif event.type == ev.CONVERSATION_STATUS_CHANGED:
            facts.append(Fact(event.occurred_at, "status", str(event.data.get("status"))))
        elif event.type == ev.CALL_UPDATED and _answered(event.data):
            facts.append(Fact(event.occurred_at, "reply"))
    return facts


def _answered(data: Mapping[str, Any]) -> bool:
    """Whether a ``call.updated`` is the moment someone took the call (a talking agent answers it)."""
    if data.get("state") == "talking":
        return data.get("previous") != "talking"
    # A single end-of-call report (a CDR) of an answered call: it never was talking at the hub.
    return (data.get("state") in ("wrap_up", "ended") and data.get("outcome") == "answered"
            and data.get("previous") in (None, "ivr", "queued", "ringing"))


def sla_state(policy: SlaPolicy, facts: Sequence[Fact], now: datetime) -> list[TargetState]:
    """The state of each of the policy's targets at ``now``."""
    if not facts or facts[0].kind != "opened":
        return []
    opened = facts[0].at
    segments: list[tuple[datetime, datetime | None]] = []  # when the conversation was open
    status, since = "open", opened
    first_reply: datetime | None = None
    resolved_at: datetime | None = None
    cycles: list[tuple[datetime, datetime | None]] = []  # next-response cycles
    replied = False
    for fact in facts[1:]:
        if fact.at > now:
            break
        new_status = status
        if fact.kind == "customer":
            if status in ("pending", "snoozed"):
                new_status = "open"  # ingest reopens a waiting conversation
            if replied and (not cycles or cycles[-1][1] is not None):
                cycles.append((fact.at, None))
        elif fact.kind == "reply":
            if first_reply is None:
                first_reply = fact.at
            replied = True
            if cycles and cycles[-1][1] is None:
                cycles[-1] = (cycles[-1][0], fact.at)
        elif fact.kind == "status" and fact.status is not None:
            new_status = fact.status
        if new_status != status:
            if status == "open":
                segments.append((since, fact.at))
            if new_status == "open":
                since = fact.at
            resolved_at = fact.at if new_status == "resolved" else None
            status = new_status
    if status == "open":
        segments.append((since, None))
    running_now = status == "open"

    def elapsed(start: datetime, end: datetime) -> float:
        total = 0.0
        for lo, hi in segments:
            lo, hi = max(lo, start), min(hi or end, end)
            if hi > lo:
                total += policy.calendar.seconds_between(lo, hi)
        return total

    def judge(target: Target, start: datetime, met: datetime | None, missed_before: int = 0) -> TargetState:
        goal = policy.goals[target]
        spent = elapsed(start, met or now)
        running = met is None and running_now
        due_at = warn_at = None
        if met is not None:
            state: State = "hit" if spent <= goal else "missed"
        elif spent > goal:
            state = "missed"
        else:
            state = "warning" if spent >= goal * policy.warning_share else "active"
            if running:
                due_at = policy.calendar.add(now, goal - spent)
                if state == "active":
                    warn_at = policy.calendar.add(now, goal * policy.warning_share - spent)
        return TargetState(target, state, goal, spent, running, due_at, warn_at, met, start, missed_before)

    out = []
    if "first_response" in policy.goals:
        out.append(judge("first_response", opened, first_reply))
    if "next_response" in policy.goals and cycles:
        goal = policy.goals["next_response"]
        missed = sum(1 for start, end in cycles[:-1] if end is not None and elapsed(start, end) > goal)
        out.append(judge("next_response", cycles[-1][0], cycles[-1][1], missed))
    if "resolution" in policy.goals:
        out.append(judge("resolution", opened, resolved_at))
    return out


def parse_sla_policies(
    tables: Sequence[Mapping[str, Any]], calendars: Mapping[str, Calendar], queue_names: set[str]
) -> tuple[SlaPolicy, ...]:
    """Every ``[[routing.sla]]`` table, in order."""
    policies = []
    for index, table in enumerate(tables):
        options = Options(table, f"[[routing.sla]] #{index + 1}")
        name = options.string("name") or f"sla-{index + 1}"
        options.where = f"SLA policy {name!r}"
        goals: dict[Target, float] = {}
        for target in TARGETS:
            seconds = options.duration(target, None)
            if seconds is not None:
                if seconds <= 0:
                    raise ConfigError(f"{options.where}: {target} must be more than 0 seconds")
                goals[target] = seconds
        if not goals:
            raise ConfigError(f"{options.where}: give at least one of {', '.join(TARGETS)}")
        calendar_name = options.string("calendar")
        if calendar_name is not None and calendar_name not in calendars:
            raise ConfigError(f"{options.where}: unknown calendar {calendar_name!r}")
        policy = SlaPolicy(
            name=name,
            goals=goals,
            calendar=calendars[calendar_name] if calendar_name else ALWAYS,
            warning_share=options.number("warning_at", 0.8, minimum=0.01, maximum=1.0),
            queues=options.strings("queues"),
            priorities=options.integers("priorities"),
            channels=options.strings("channels"),
            media=options.strings("media"),
        )
        options.done()
        for queue in policy.queues:
            if queue not in queue_names:
                raise ConfigError(f"{options.where}: unknown queue {queue!r}")
        policies.append(policy)
    return tuple(policies)
