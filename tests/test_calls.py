"""The call state machine: forward always, back never, except a missed ring back to the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.calls import RANK, CallState, call_thread_key, may_move

T = datetime(2030, 1, 1, tzinfo=UTC)
LATER = T + timedelta(seconds=1)
EARLIER = T - timedelta(seconds=1)
S = CallState


@pytest.mark.parametrize("current", [s for s in S if s not in (S.WRAP_UP, S.ENDED)])
def test_every_later_state_is_reachable_even_by_a_late_report(current: CallState) -> None:
    for target in S:
        if RANK[target] > RANK[current]:
            assert may_move(current, T, target, EARLIER)
            assert may_move(current, T, target, LATER)


@pytest.mark.parametrize("current", list(S))
def test_no_earlier_state_is_reachable_but_ringing_back_to_queued(current: CallState) -> None:
    for target in S:
        if RANK[target] < RANK[current]:
            expected = (current, target) == (S.RINGING, S.QUEUED)
            assert may_move(current, T, target, LATER) is expected
            assert not may_move(current, T, target, EARLIER)
            assert not may_move(current, T, target, T)


def test_the_same_state_again_counts_only_when_newer() -> None:
    for state in (S.IVR, S.QUEUED, S.RINGING, S.TALKING):
        assert may_move(state, T, state, LATER)  # a transfer: another agent, another queue
        assert not may_move(state, T, state, T)  # a retry of the same report
        assert not may_move(state, T, state, EARLIER)


def test_a_finished_call_stays_finished() -> None:
    for current in (S.WRAP_UP, S.ENDED):
        for target in S:
            assert not may_move(current, T, target, LATER + timedelta(days=1))


def test_the_thread_key_names_the_call() -> None:
    assert call_thread_key("CA123") == "call:CA123"
