"""The token cache: entries expire, invalidation keeps a look-up that raced it out."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.auth.principal import Principal, Role
from hub.auth.token_cache import CachedToken, TokenCache


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
