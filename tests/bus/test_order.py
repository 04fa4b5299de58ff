"""The sequencer puts events from racing publishers back into id order and says when it cannot."""

from __future__ import annotations

from hub.bus_order import Release, Sequencer
from hub.events import Event


def ev(*ids: int) -> list[Event]:
    return [Event("message.received", id=i) for i in ids]


def ids(release: Release) -> list[int | None]:
    return [e.id for e in release.events]


def started(first: int = 1) -> Sequencer:
    seq = Sequencer(window=1.0)
    release = seq.push(ev(first), now=0.0)
    assert ids(release) == [first] and release.gap  # it cannot know what came before
    return seq


def test_in_order_events_pass_straight_through_without_a_gap() -> None:
    seq = started(4)
    release = seq.push(ev(5, 6, 7), now=0.0)
    assert ids(release) == [5, 6, 7] and not release.gap
    assert seq.next_deadline() is None


def test_an_early_event_waits_for_its_predecessor() -> None:
    seq = started(1)
    assert ids(seq.push(ev(3, 4), now=0.1)) == []
    assert seq.next_deadline() == 1.1
    release = seq.push(ev(2), now=0.2)
    assert ids(release) == [2, 3, 4] and not release.gap
    assert seq.next_deadline() is None


def test_a_missing_id_is_given_up_after_the_window_as_a_gap() -> None:
    seq = started(1)
    seq.push(ev(3), now=0.5)
    seq.push(ev(5), now=0.9)
    assert seq.expire(now=1.4) == Release()
    release = seq.expire(now=1.5)
    assert ids(release) == [3] and release.gap  # 2 never came; 5 still waits for 4
    assert ids(seq.expire(now=1.9)) == [5]
    release = seq.push(ev(6), now=2.0)
    assert ids(release) == [6] and not release.gap


def test_a_late_or_repeated_event_is_passed_on_as_a_gap() -> None:
    seq = started(1)
    seq.push(ev(3), now=0.0)
    assert ids(seq.expire(now=1.0)) == [3]
    for late in (2, 3):
        release = seq.push(ev(late), now=1.1)
        assert ids(release) == [late] and release.gap


def test_flush_delivers_what_is_held_as_a_gap_and_starts_afresh() -> None:
    seq = started(1)
    seq.push(ev(4, 3), now=0.0)
    release = seq.flush()
    assert ids(release) == [3, 4] and release.gap
    release = seq.push(ev(10), now=0.1)
    assert ids(release) == [10] and release.gap


def test_events_without_an_id_are_dropped() -> None:
    seq = started(1)
    assert seq.push([Event("message.received")], now=0.0) == Release()
