"""The token cache: entries expire, invalidation keeps a look-up that raced it out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hub.auth.principal import Principal, Role
from hub.auth.token_cache import CachedToken, TokenCache
from hub.errors import Unauthorized


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def entry(user_id: int = 1) -> CachedToken:
    principal = Principal(user_id=user_id, email="a@example.test", name="A", role=Role.AGENT,
                          queue_ids=frozenset({3}), via="token")
    return CachedToken(principal, token_id=7, last_used_at=None)


def test_an_entry_lives_for_the_ttl_only() -> None:
    clock = Clock()
    cache = TokenCache(clock, ttl=2.0)
    cache.put("digest", entry(), cache.generation)
    clock.now += 1.9
    assert cache.get("digest") == entry()
    clock.now += 0.1
    assert cache.get("digest") is None
    assert cache.get("other") is None


def test_invalidation_forgets_everything_and_refuses_answers_read_before_it() -> None:
    cache = TokenCache(Clock())
    cache.put("a", entry(1), cache.generation)
    read_started = cache.generation  # a look-up begins reading the database ...
    cache.invalidate()  # ... a token is revoked meanwhile ...
    cache.put("b", entry(2), read_started)  # ... so what it read is not kept
    assert cache.get("a") is None and cache.get("b") is None
    cache.put("b", entry(2), cache.generation)
    assert cache.get("b") == entry(2)


def test_a_recorded_use_keeps_the_expiry() -> None:
    clock = Clock()
    cache = TokenCache(clock, ttl=2.0)
    cache.put("a", entry(), cache.generation)
    used = datetime(2030, 1, 1, tzinfo=UTC)
    clock.now += 1.5
    cache.touched("a", used)
    found = cache.get("a")
    assert found is not None and found.last_used_at == used
    clock.now += 0.5
    assert cache.get("a") is None


async def test_concurrent_look_ups_of_one_token_share_one_read() -> None:
    cache = TokenCache(Clock())
    gate = asyncio.Event()
    reads = 0

    async def load() -> CachedToken:
        nonlocal reads
        reads += 1
        await gate.wait()
        return entry()

    waiting = [asyncio.create_task(cache.lookup("a", load)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [entry()] * 5
    assert reads == 1
    assert await cache.lookup("a", load) == entry() and reads == 1  # now from the cache


async def test_a_refused_token_is_refused_to_every_waiter_and_not_remembered() -> None:
    cache = TokenCache(Clock())

    async def refuse() -> CachedToken:
        await asyncio.sleep(0)
        raise Unauthorized("unknown or revoked token")

    results = await asyncio.gather(*(cache.lookup("x", refuse) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, Unauthorized) for r in results)
    assert cache.get("x") is None


async def test_a_look_up_running_across_an_invalidation_is_not_remembered() -> None:
    cache = TokenCache(Clock())
    gates = [asyncio.Event(), asyncio.Event()]
    reads = 0

    async def slow() -> CachedToken:
        nonlocal reads
        reads += 1
        mine = reads
        await gates[mine - 1].wait()
        return entry(mine)  # the user as that read found it

    first = asyncio.create_task(cache.lookup("a", slow))
    await asyncio.sleep(0)
    cache.invalidate()  # e.g. the user changed while the first read ran
    later = asyncio.create_task(cache.lookup("a", slow))  # starts its own read, after the change
    await asyncio.sleep(0)
    gates[1].set()
    assert (await later).principal.user_id == 2
    gates[0].set()
    assert (await first).principal.user_id == 1  # its own caller still gets an answer ...
    found = cache.get("a")
    assert found is not None and found.principal.user_id == 2  # ... but it is not remembered
