"""A short-lived, process-wide cache of bearer-token look-ups.

An agent answering chats sends several requests a second with the same token; each
look-up is two queries (the token with its user, then the user's queues). Valid
tokens are remembered for ``TTL_SECONDS``, keyed by the token's digest (the token
itself is never held). Unknown or revoked tokens are never cached.

Freshness: revoking a token or changing a user (role, active, queues) through the
hub clears the cache of that process at commit (``invalidate``); a look-up that was
reading the database while that happened does not store its answer (generation
check). Other hub processes, and changes made directly in the database, take
effect within ``TTL_SECONDS``.

Requests with the same token that arrive while its look-up runs wait for that one
look-up instead of each starting their own (under load, they would all miss).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from hub.auth.principal import Principal

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class CachedToken:
    """What a token look-up found: its user as a principal, the token's id and last use."""

    principal: Principal
    token_id: int
    last_used_at: datetime | None


class TokenCache:
    """Token digest -> ``CachedToken`` for a few seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = TTL_SECONDS) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, tuple[float, CachedToken]] = {}
        self._loading: dict[str, asyncio.Task[CachedToken]] = {}
        self.generation = 0

    async def lookup(self, token_digest: str, load: Callable[[], Awaitable[CachedToken]]) -> CachedToken:
        """The cached entry, or the result of ``load()`` (shared by concurrent callers), remembered.

        ``load`` raises for an unknown or revoked token; every caller waiting on it gets that error.
        """
        found = self.get(token_digest)
        if found is not None:
            return found
        task = self._loading.get(token_digest)
        if task is None:
            task = asyncio.ensure_future(self._load(token_digest, load, self.generation))
            self._loading[token_digest] = task
        return await asyncio.shield(task)  # one caller going away does not cancel the others' look-up

    async def _load(self, token_digest: str, load: Callable[[], Awaitable[CachedToken]], generation: int) -> CachedToken:
        try:
            entry = await load()
        finally:
            if self._loading.get(token_digest) is asyncio.current_task():
                del self._loading[token_digest]
        self.put(token_digest, entry, generation)
        return entry

    def get(self, token_digest: str) -> CachedToken | None:
        """The fresh entry for the digest, or None."""
        found = self._entries.get(token_digest)
        if found is None:
            return None
        expires, entry = found
        if self._clock() >= expires:
            del self._entries[token_digest]
            return None
        return entry

    def put(self, token_digest: str, entry: CachedToken, generation: int) -> None:
        """Remember ``entry`` unless the cache was invalidated since ``generation`` (read before the look-up)."""
        if generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_digest] = (self._clock() + self._ttl, entry)

    def touched(self, token_digest: str, when: datetime) -> None:
        """Record a use written to the database, keeping the entry's expiry."""
        found = self._entries.get(token_digest)
        if found is not None:
            self._entries[token_digest] = (found[0], replace(found[1], last_used_at=when))

    def invalidate(self) -> None:
        """Forget everything: a token was revoked or a user changed."""
        self.generation += 1
        self._entries.clear()
        self._loading.clear()  # a look-up already running may predate the change: later callers start anew


TOKENS = TokenCache()
