"""The Redis event bus against the real Redis: fan-out between processes, reconnects, gaps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hub.bus import Subscription, publish_transient
from hub.bus_redis import RedisBus, encode_events, encode_resync
from hub.events import Event
from tests.services import REDIS_URL, service_missing

WAIT = 10.0


@pytest.fixture
async def redis_admin() -> AsyncIterator[aioredis.Redis]:
    """A plain client for the test's own commands (publish, CLIENT KILL)."""
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    yield client
    await client.aclose()


@pytest.fixture
def channel(redis_admin: aioredis.Redis) -> str:
    """Pub/sub channels are server-wide: every test gets its own."""
    return f"hub:test:{uuid.uuid4().hex}"


@pytest.fixture
async def buses(channel: str) -> AsyncIterator[list[RedisBus]]:
    """Up to two started buses on the test's channel, like two hub processes."""
    started = [
        RedisBus(
            REDIS_URL,
            channel=channel,
            client_name=f"hub-test-{uuid.uuid4().hex[:12]}",
            backoff_initial=0.05,
            backoff_max=0.2,
            reorder_window=0.2,
        )
        for _ in range(2)
    ]
    for bus in started:
        await bus.start()
    yield started
    for bus in started:
        await bus.aclose()


async def get_event(sub: Subscription) -> Event:
    """The next event, whether or not a gap was flagged before it."""
    async with asyncio.timeout(WAIT):
        return await sub.get()


async def next_event(sub: Subscription) -> Event:
    """The next event, which must not be preceded by a gap."""
    async with asyncio.timeout(WAIT):
        event = await sub.next()
    assert event is not None, "expected an event, got a gap"
    return event


async def next_gap(sub: Subscription) -> None:
    async with asyncio.timeout(WAIT):
        event = await sub.next()
    assert event is None, f"expected a gap, got {event}"


async def primed(bus: RedisBus, first: int = 1) -> Subscription:
    """A subscription past the bus's first event (always a gap: the bus cannot know the past)."""
    sub = bus.subscribe()
    await bus.publish([event(first)])
    assert (await get_event(sub)).id == first
    sub.reset()
    return sub


def event(event_id: int, **fields: object) -> Event:
    return Event("message.received", id=event_id, **fields)  # type: ignore[arg-type]


async def test_a_process_receives_its_own_events_through_redis(buses: list[RedisBus]) -> None:
    bus = buses[0]
    sub = bus.subscribe()
    sent = event(7, conversation_id=3, contact_id=4, queue_id=5, user_id=None, data={"message_id": 9})
    await bus.publish([sent])
    assert await get_event(sub) == sent
    sub.close()


async def test_the_first_event_a_bus_hears_is_flagged_as_a_gap(buses: list[RedisBus]) -> None:
    sub = buses[0].subscribe()
    await buses[0].publish([event(7), event(8)])
    await next_gap(sub)
    sub.reset()
    await buses[0].publish([event(9)])
    assert (await next_event(sub)).id == 9


async def test_two_processes_receive_every_event_in_the_same_order(buses: list[RedisBus]) -> None:
    a, b = buses
    sub_a, sub_b = a.subscribe(), b.subscribe()
    await a.publish([event(1), event(2)])
    await b.publish([event(3)])
    await a.publish([event(4)])
    for sub in (sub_a, sub_b):
        assert [(await get_event(sub)).id for _ in range(4)] == [1, 2, 3, 4]


async def test_events_that_reach_redis_out_of_order_are_delivered_in_id_order(
    buses: list[RedisBus], redis_admin: aioredis.Redis, channel: str
) -> None:
    sub = await primed(buses[0], 9)
    await redis_admin.publish(channel, encode_events([event(10)]))
    await redis_admin.publish(channel, encode_events([event(12), event(13)]))
    await redis_admin.publish(channel, encode_events([event(11)]))
    assert [(await next_event(sub)).id for _ in range(4)] == [10, 11, 12, 13]


async def test_a_missing_id_is_waited_for_then_flagged_as_a_gap(
    buses: list[RedisBus], redis_admin: aioredis.Redis, channel: str
) -> None:
    sub = await primed(buses[0], 19)
    await redis_admin.publish(channel, encode_events([event(20)]))
    await redis_admin.publish(channel, encode_events([event(22)]))  # 21 never comes
    assert (await next_event(sub)).id == 20
    await next_gap(sub)  # flagged before 22 is handed over: consumers re-read the table first
    assert (await get_event(sub)).id == 22


async def test_a_killed_connection_is_re_established_and_the_gap_is_flagged(
    buses: list[RedisBus], redis_admin: aioredis.Redis
) -> None:
    bus = buses[0]
    sub = await primed(bus)

    clients = await redis_admin.client_list(_type="pubsub")
    ids = [c["id"] for c in clients if c.get("name") == bus.client_name]
    assert len(ids) == 1, clients
    await redis_admin.client_kill_filter(_id=ids[0])

    await next_gap(sub)
    assert bus.reconnects == 1
    sub.reset()
    other = buses[1].subscribe()  # a process that never lost its connection
    await bus.publish([event(2)])
    assert (await get_event(sub)).id == 2
    assert (await get_event(other)).id == 2


async def test_a_resync_notice_from_another_process_flags_every_subscriber(
    buses: list[RedisBus], redis_admin: aioredis.Redis, channel: str
) -> None:
    subs = [bus.subscribe() for bus in buses]
    await buses[0].publish([event(1)])
    for sub in subs:
        assert (await get_event(sub)).id == 1
        sub.reset()
    await buses[0].publish([event(2)])
    for sub in subs:
        assert (await next_event(sub)).id == 2
    await redis_admin.publish(channel, encode_resync("publish failed"))
    for sub in subs:
        await next_gap(sub)


async def test_a_malformed_message_is_ignored(
    buses: list[RedisBus], redis_admin: aioredis.Redis, channel: str
) -> None:
    sub = await primed(buses[0], 29)
    for junk in (b"not json", b"[1, 2]", b'{"events": [{"id": 1}]}', b'{"events": 5}'):
        await redis_admin.publish(channel, junk)
    await redis_admin.publish(channel, encode_events([event(30)]))
    assert (await next_event(sub)).id == 30


@pytest.mark.parametrize("started", [False, True], ids=["publish-only", "started"])
async def test_without_redis_publish_flags_local_subscribers_instead_of_raising(started: bool) -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", connect_timeout=0.5, backoff_initial=0.05)
    if started:
        await bus.start()  # gives up waiting, keeps retrying in the background
    sub = bus.subscribe()
    try:
        await bus.publish([event(1)])
        await next_gap(sub)
        with pytest.raises((RedisError, OSError)):
            await bus.ping()
    finally:
        await bus.aclose()


async def test_after_a_failed_publish_the_other_processes_are_told_to_resync(
    buses: list[RedisBus], channel: str
) -> None:
    sub_b = await primed(buses[1])
    flaky = RedisBus("redis://127.0.0.1:1/0", channel=channel, connect_timeout=0.5)
    await flaky.publish([event(5)])  # lost: nobody heard it
    flaky.url = REDIS_URL  # Redis answers this process again
    await flaky.aclose()  # drops the client made for the dead address
    try:
        await flaky.publish([event(2)])
        assert (await next_event(sub_b)).id == 2
        await next_gap(sub_b)
    finally:
        await flaky.aclose()


async def test_a_transient_signal_crosses_redis_outside_the_id_order(buses: list[RedisBus]) -> None:
    """Presence signals have no id: delivered at once to subscribers that ask, never held or a gap."""
    first, second = buses
    stored_sub, live_sub = second.subscribe(), second.subscribe(transient=True)
    await first.publish([event(1)])
    for sub in (stored_sub, live_sub):
        assert (await get_event(sub)).id == 1
        sub.reset()
    await publish_transient(first, Event("conversation.viewing", conversation_id=42, queue_id=1,
                                         data={"user_id": 3, "viewing": True}))
    await first.publish([event(2)])
    signal = await next_event(live_sub)
    assert (signal.type, signal.conversation_id, signal.id, signal.transient) == ("conversation.viewing", 42, None, True)
    assert signal.data == {"user_id": 3, "viewing": True}
    assert (await next_event(live_sub)).id == 2
    assert (await next_event(stored_sub)).id == 2  # the plain subscriber never saw the signal
    assert stored_sub.queue.empty() and not stored_sub.overflowed and not live_sub.overflowed
