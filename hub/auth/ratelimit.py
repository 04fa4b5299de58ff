"""Login rate limit: failed attempts per email and per client address in a fixed window.

Each attempt is counted *before* the password is checked, so that many parallel
guesses cannot all slip past a check-then-count; a successful login clears the
email's counter and takes its own attempt back from the address's counter. In one
process the counters live in memory; with ``HUB_REDIS_URL`` they live in Redis
(``SET NX EX`` + ``INCR``) so that every hub process behind a load balancer shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hub.config import Settings
from hub.errors import ServiceUnavailable, TooManyRequests


class CounterStore(Protocol):
    """Counters that expire a fixed time after their first hit."""

    async def hit(self, keys: Sequence[str], window: int) -> list[tuple[int, int]]:
        """Add one to each key; return (count, seconds until the key's window ends)."""
        ...

    async def forget(self, key: str) -> None:
        """Drop the key."""
        ...

    async def take_back(self, key: str) -> None:
        """Subtract one from the key if it still exists."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryCounters:
    """Counters of this process only; the clock is injectable for tests."""

    MAX_KEYS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}

    async def hit(self, keys: Sequence[str], window: int) -> list[tuple[int, int]]:
        """Add one to each key; return (count, seconds left)."""
        now = self._clock()
        if len(self._counts) > self.MAX_KEYS:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        result = []
        for key in keys:
            count, ends = self._counts.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + window
            self._counts[key] = (count + 1, ends)
            result.append((count + 1, max(1, math.ceil(ends - now))))
        return result

    async def forget(self, key: str) -> None:
        """Drop the key."""
        self._counts.pop(key, None)

    async def take_back(self, key: str) -> None:
        """Subtract one from the key if its window is still open."""
        entry = self._counts.get(key)
        if entry is not None and entry[1] > self._clock():
            self._counts[key] = (max(0, entry[0] - 1), entry[1])

    async def aclose(self) -> None:
        """Nothing to release."""


_TAKE_BACK = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"


class RedisCounters:
    """Counters shared by every hub process through Redis."""

    def __init__(self, url: str, *, prefix: str = "hub:login:", what: str = "login rate limit") -> None:
        self._redis = aioredis.Redis.from_url(url)
        self._prefix = prefix
        self._unavailable = f"the {what} store (Redis) is unavailable"

    async def hit(self, keys: Sequence[str], window: int) -> list[tuple[int, int]]:
        """Add one to each key (the first hit starts its window); return (count, seconds left)."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    full = self._prefix + key
                    pipe.set(full, 0, ex=window, nx=True)
                    pipe.incr(full)
                    pipe.ttl(full)
                replies = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(self._unavailable) from exc
        return [(int(replies[i + 1]), max(1, int(replies[i + 2]))) for i in range(0, len(replies), 3)]

    async def forget(self, key: str) -> None:
        """Drop the key."""
        try:
            await self._redis.delete(self._prefix + key)
        except RedisError as exc:
            raise ServiceUnavailable(self._unavailable) from exc

    async def take_back(self, key: str) -> None:
        """Subtract one from the key if it still exists (never creates a key without expiry)."""
        try:
            await self._redis.eval(_TAKE_BACK, 1, self._prefix + key)
        except RedisError as exc:
            raise ServiceUnavailable(self._unavailable) from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


class LoginRateLimit:
    """At most ``max_failures`` failed logins per email and per client address per window."""

    def __init__(self, store: CounterStore, *, max_failures: int, window_seconds: int) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    async def attempt(self, email: str, remote: str | None) -> None:
        """Count a login attempt; TooManyRequests when the email or the address is over the limit."""
        counts = await self.store.hit([email_key(email), address_key(remote)], self.window_seconds)
        waits = [left for count, left in counts if count > self.max_failures]
        if waits:
            retry_after = max(waits)
            raise TooManyRequests(
                f"too many failed logins; try again in {retry_after} seconds", retry_after=retry_after
            )

    async def succeeded(self, email: str, remote: str | None) -> None:
        """A login worked: clear the email's failures and take this attempt back from the address."""
        await self.store.forget(email_key(email))
        await self.store.take_back(address_key(remote))

    async def aclose(self) -> None:
        """Release the store's connections."""
        await self.store.aclose()


def build_login_limit(settings: Settings, *, prefix: str = "hub:login:") -> LoginRateLimit:
    """Redis-backed when ``settings.redis_url`` is set, else in this process's memory."""
    store: CounterStore = (
        RedisCounters(settings.redis_url, prefix=prefix) if settings.redis_url else MemoryCounters()
    )
    return LoginRateLimit(
        store, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds
    )


def email_key(email: str) -> str:
    """Counter key for an email; hashed, so Redis never holds an address."""
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def address_key(remote: str | None) -> str:
    """Counter key for a client address; IPv6 clients count per /64, which one host usually owns."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return "ip:unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 6:
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"
