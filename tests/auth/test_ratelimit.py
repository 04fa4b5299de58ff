"""Login rate limit: per email and per client address, in memory and shared through Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from hub.auth.ratelimit import (
    LoginRateLimit,
    MemoryCounters,
    RedisCounters,
    address_key,
    email_key,
)
from hub.errors import TooManyRequests
from tests.services import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def fail(limit: LoginRateLimit, times: int, email: str = "a@example.com", remote: str = "192.0.2.1") -> None:
    for _ in range(times):
        await limit.attempt(email, remote)


async def test_the_attempt_after_max_failures_is_refused_until_the_window_ends() -> None:
    clock = Clock()
    limit = LoginRateLimit(MemoryCounters(clock), max_failures=3, window_seconds=60)
    await fail(limit, 3)
    clock.now += 20
    with pytest.raises(TooManyRequests) as caught:
        await limit.attempt("a@example.com", "192.0.2.1")
    assert caught.value.retry_after == 40
    clock.now += 40
    await limit.attempt("a@example.com", "192.0.2.1")  # a new window


async def test_the_email_limit_holds_across_addresses_and_the_address_limit_across_emails() -> None:
    limit = LoginRateLimit(MemoryCounters(Clock()), max_failures=2, window_seconds=60)
    await limit.attempt("a@example.com", "192.0.2.1")
    await limit.attempt("A@Example.com ", "192.0.2.2")
    with pytest.raises(TooManyRequests):
        await limit.attempt("a@example.com", "192.0.2.3")

    other = LoginRateLimit(MemoryCounters(Clock()), max_failures=2, window_seconds=60)
    await other.attempt("a@example.com", "192.0.2.9")
    await other.attempt("b@example.com", "192.0.2.9")
    with pytest.raises(TooManyRequests):
        await other.attempt("c@example.com", "192.0.2.9")


async def test_a_success_clears_the_email_and_gives_the_address_its_attempt_back() -> None:
    limit = LoginRateLimit(MemoryCounters(Clock()), max_failures=2, window_seconds=60)
    await fail(limit, 2)
    await limit.succeeded("a@example.com", "192.0.2.1")
    await fail(limit, 2, remote="192.0.2.100")  # the email's failures are gone
    await limit.attempt("b@example.com", "192.0.2.1")  # the address has one attempt left
    with pytest.raises(TooManyRequests):
        await limit.attempt("c@example.com", "192.0.2.1")


def test_keys_hide_the_email_and_group_ipv6_by_64_bit_prefix() -> None:
    assert "example" not in email_key("a@example.com")
    assert email_key(" A@Example.COM") == email_key("a@example.com")
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "ip:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "ip:192.0.2.7"
    assert address_key(None) == address_key("not an address") == "ip:unknown"


async def test_redis_counters_limit_like_memory_and_expire_with_the_window(redis_prefix: str) -> None:
    limit = LoginRateLimit(RedisCounters(REDIS_URL, prefix=redis_prefix), max_failures=3, window_seconds=120)
    try:
        await fail(limit, 3)
        with pytest.raises(TooManyRequests) as caught:
            await limit.attempt("a@example.com", "192.0.2.50")  # the email is over, the address is not
        assert 1 <= caught.value.retry_after <= 120
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            ttl = await client.ttl(redis_prefix + email_key("a@example.com"))
            assert 0 < ttl <= 120  # no key lives forever
        finally:
            await client.aclose()
    finally:
        await limit.aclose()


async def test_redis_counters_are_shared_by_every_process(redis_prefix: str) -> None:
    first = LoginRateLimit(RedisCounters(REDIS_URL, prefix=redis_prefix), max_failures=2, window_seconds=60)
    second = LoginRateLimit(RedisCounters(REDIS_URL, prefix=redis_prefix), max_failures=2, window_seconds=60)
    try:
        await fail(first, 1)
        await fail(second, 1)
        with pytest.raises(TooManyRequests):
            await first.attempt("a@example.com", "192.0.2.1")
        await second.succeeded("a@example.com", "192.0.2.1")
        await first.attempt("a@example.com", "192.0.2.77")
    finally:
        await first.aclose()
        await second.aclose()


async def test_taking_back_an_expired_redis_key_creates_no_immortal_key(redis_prefix: str) -> None:
    counters = RedisCounters(REDIS_URL, prefix=redis_prefix)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await counters.take_back("ip:192.0.2.1")
        assert await client.exists(redis_prefix + "ip:192.0.2.1") == 0
    finally:
        await client.aclose()
        await counters.aclose()
