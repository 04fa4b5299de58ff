"""SLA clocks folded from the event log: business hours, pauses, states, human replies only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub import events as ev
from hub.events import Event
from hub.routing.calendar import parse_calendar
from hub.routing.sla import Fact, SlaPolicy, facts_from_events, select_policy, sla_state

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = parse_calendar("weekdays", {"timezone": "Europe/Berlin", "mon-fri": "08:00-18:00"})
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # a Monday, 11:00 in Berlin
H = 3600.0


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def policy(**goals: float) -> SlaPolicy:
    return SlaPolicy("std", {k: v * H for k, v in goals.items()})  # type: ignore[misc]


def states(p: SlaPolicy, facts: list[Fact], now: datetime) -> dict[str, tuple[str, float]]:
    return {s.target: (s.state, round(s.elapsed / H, 3)) for s in sla_state(p, facts, now)}


def test_first_response_states_run_from_active_over_warning_to_hit_or_missed() -> None:
    p = policy(first_response=2)
    opened = [Fact(at(0), "opened"), Fact(at(0), "customer")]
    assert states(p, opened, at(1))["first_response"] == ("active", 1.0)
    assert states(p, opened, at(1.7))["first_response"] == ("warning", 1.7)  # 85 % of 2 h, warning at 80 %
    assert states(p, opened, at(3))["first_response"] == ("missed", 3.0)
    assert states(p, [*opened, Fact(at(1.5), "reply")], at(9))["first_response"] == ("hit", 1.5)
    assert states(p, [*opened, Fact(at(2.5), "reply")], at(9))["first_response"] == ("missed", 2.5)


def test_pending_and_snoozed_pause_the_clock_and_a_customer_message_restarts_it() -> None:
    p = policy(first_response=3)
    facts = [
        Fact(at(0), "opened"), Fact(at(0), "customer"),
        Fact(at(1), "status", "pending"),
        Fact(at(3), "customer"),  # reopens the conversation
        Fact(at(3.5), "status", "snoozed"), Fact(at(5), "status", "open"),
        Fact(at(5.5), "reply"),
    ]
    assert states(p, facts, at(9))["first_response"] == ("hit", 2.0)  # 1 h + 0.5 h + 0.5 h
    (paused,) = sla_state(p, facts[:3], at(2))
    assert paused.running is False and paused.due_at is None


def test_only_a_human_reply_meets_a_response_target() -> None:
    def event(type_: str, hours: float, **data: object) -> Event:
        return Event(type_, conversation_id=1, occurred_at=at(hours), data=dict(data))

    log = [
        event(ev.CONVERSATION_CREATED, 0), event(ev.MESSAGE_RECEIVED, 0),
        event(ev.MESSAGE_CREATED, 0.1, private=True, author_user_id=7),  # an internal note
        event(ev.MESSAGE_CREATED, 0.2, private=False, author_user_id=None),  # an automatic reply
        event(ev.MESSAGE_CREATED, 1.0, private=False, author_user_id=7),
    ]
    facts = facts_from_events(log)
    assert [f.kind for f in facts] == ["opened", "customer", "reply"]
    assert states(policy(first_response=2), facts, at(5))["first_response"] == ("hit", 1.0)


def test_answering_a_call_is_the_first_response() -> None:
    def call(hours: float, state: str, previous: str | None, outcome: str | None = None) -> Event:
        return Event(ev.CALL_UPDATED, conversation_id=1, occurred_at=at(hours),
                     data={"state": state, "previous": previous, "outcome": outcome, "agent_id": 7})

    log = [
        Event(ev.CONVERSATION_CREATED, conversation_id=1, occurred_at=at(0)),
        call(0, "ivr", None), call(0.1, "queued", "ivr"), call(0.2, "ringing", "queued"),
        call(0.5, "talking", "ringing"), call(0.6, "talking", "talking"),  # a transfer: no second answer
        call(0.9, "ended", "talking", "answered"),
    ]
    facts = facts_from_events(log)
    assert [(f.kind, f.at) for f in facts] == [("opened", at(0)), ("reply", at(0.5))]
    assert states(policy(first_response=1), facts, at(5))["first_response"] == ("hit", 0.5)
    # Rung and never taken, or abandoned in the queue: no response.
    unanswered = [log[0], call(0.1, "queued", "ivr"), call(0.2, "ringing", "queued"), call(2, "ended", "ringing", "missed")]
    assert [f.kind for f in facts_from_events(unanswered)] == ["opened"]
    # One end-of-call report (a CDR) of an answered call answers it too.
    cdr = [log[0], call(0.3, "ended", None, "answered")]
    assert [f.kind for f in facts_from_events(cdr)] == ["opened", "reply"]


def test_next_response_cycles_count_misses_before_the_current_one() -> None:
    p = policy(next_response=1)
    facts = [
        Fact(at(0), "opened"), Fact(at(0), "customer"), Fact(at(0.5), "reply"),
        Fact(at(1), "customer"), Fact(at(3), "reply"),  # missed: 2 h
        Fact(at(4), "customer"),
    ]
    (state,) = sla_state(p, facts, at(4.5))
    assert (state.target, state.state, state.missed_before, state.started_at) == ("next_response", "active", 1, at(4))
    assert state.due_at == at(5)


def test_resolution_runs_until_resolved_and_continues_after_a_reopen() -> None:
    p = policy(resolution=8)
    facts = [Fact(at(0), "opened"), Fact(at(2), "status", "resolved")]
    assert states(p, facts, at(5))["resolution"] == ("hit", 2.0)
    reopened = [*facts, Fact(at(4), "status", "open")]
    assert states(p, reopened, at(5))["resolution"] == ("active", 3.0)


def test_business_hours_carry_a_target_over_the_weekend_and_the_dst_change() -> None:
    p = SlaPolicy("office", {"first_response": 4 * H}, calendar=WEEKDAYS)
    opened = datetime(2026, 3, 27, 16, 0, tzinfo=BERLIN)  # Friday 16:00; the clocks go forward on Sunday
    (state,) = sla_state(p, [Fact(opened, "opened")], opened + timedelta(minutes=1))
    assert state.due_at == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)  # 2 h on Friday, 2 h on Monday
    assert state.warn_at == datetime(2026, 3, 30, 9, 12, tzinfo=BERLIN)  # 80 %: 3 h 12 min of open time
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    (later,) = sla_state(p, [Fact(opened, "opened")], monday)
    assert (later.state, later.elapsed) == ("active", 3 * H)


def test_the_first_matching_policy_applies() -> None:
    urgent = SlaPolicy("urgent", {"first_response": H}, priorities=(5,), queues=("support",))
    email = SlaPolicy("email", {"first_response": 8 * H}, media=("email",))
    fallback = SlaPolicy("all", {"first_response": 24 * H})
    policies = (urgent, email, fallback)
    assert select_policy(policies, queue="support", priority=5, channel="mail", media="email") is urgent
    assert select_policy(policies, queue="billing", priority=5, channel="mail", media="email") is email
    assert select_policy(policies, queue="billing", priority=1, channel="web", media="chat") is fallback
