"""A local subscription: events in order, gaps (overflow, missed) announced to the consumer."""

from __future__ import annotations

import asyncio

import pytest

from hub import bus as bus_module
from hub.bus import InProcessBus, Subscription
from hub.events import Event


def ev(*ids: int) -> list[Event]:
    return [Event("message.received", id=i) for i in ids]


async def next_id(sub: Subscription) -> int | None:
    event = await sub.next()
    assert event is not None, "expected an event, got a gap"
    return event.id


async def test_a_subscriber_gets_every_published_event_in_order() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    await bus.publish(ev(1, 2))
    await bus.publish(ev(3))
    assert [await next_id(sub) for _ in range(3)] == [1, 2, 3]
    sub.close()
    await bus.publish(ev(4))
    assert sub.queue.empty()


async def test_mark_missed_wakes_a_waiting_consumer_and_reset_clears_it() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    waiting = asyncio.create_task(sub.next())
    await asyncio.sleep(0)  # let it block on the empty queue
    assert not waiting.done()
    bus.mark_missed()
    assert await asyncio.wait_for(waiting, 10) is None
    assert await sub.next() is None  # stays flagged until the consumer re-syncs
    await bus.publish(ev(5))
    sub.reset()
    assert sub.queue.empty() and not sub.overflowed
    await bus.publish(ev(6))
    assert await next_id(sub) == 6


async def test_get_and_iteration_skip_the_wake_up_but_keep_the_flag() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    bus.mark_missed()
    await bus.publish(ev(7))
    assert (await sub.get()).id == 7
    assert sub.overflowed
    await bus.publish(ev(8))
    bus.mark_missed()
    await bus.publish(ev(9))
    seen = []
    async for event in sub:
        seen.append(event.id)
        if len(seen) == 2:
            break
    assert seen == [8, 9]


async def test_a_full_queue_drops_events_and_flags_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "SUBSCRIBER_QUEUE_SIZE", 2)
    bus = InProcessBus()
    sub = bus.subscribe()
    await bus.publish(ev(1, 2, 3))
    assert sub.overflowed
    assert await sub.next() is None
    sub.reset()
    assert sub.queue.empty()
