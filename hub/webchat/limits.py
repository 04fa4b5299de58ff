"""Rate limits of the public widget endpoints, so that no one can flood the inbox.

New sessions per client address per hour, messages per visitor per minute; both are
counted before the work is done. In one process the counters live in memory, with
``HUB_REDIS_URL`` in Redis, shared by every hub process (``hub.auth.ratelimit``).
"""

from __future__ import annotations

import hashlib

from hub.auth.ratelimit import CounterStore, MemoryCounters, RedisCounters, address_key
from hub.config import Settings
from hub.errors import TooManyRequests

SESSION_WINDOW_SECONDS = 3600
MESSAGE_WINDOW_SECONDS = 60


class WidgetLimits:
    """Counts sessions per address and messages per visitor, per channel."""

    def __init__(self, store: CounterStore) -> None:
        self.store = store

    async def new_session(self, channel: str, remote: str | None, limit: int) -> None:
        """Count a new session from ``remote``; 429 when the address started too many this hour."""
        key = f"{channel}:session:{address_key(remote)}"
        ((count, left),) = await self.store.hit([key], SESSION_WINDOW_SECONDS)
        if count > limit:
            raise TooManyRequests(f"too many new chat sessions from your network; try again in {left} seconds",
                                  retry_after=left)

    async def message(self, channel: str, visitor_key: str, limit: int) -> None:
        """Count a visitor's message; 429 when they sent too many this minute."""
        hashed = hashlib.sha256(visitor_key.encode()).hexdigest()[:32]  # Redis never holds the key itself
        ((count, left),) = await self.store.hit([f"{channel}:message:{hashed}"], MESSAGE_WINDOW_SECONDS)
        if count > limit:
            raise TooManyRequests(f"you are sending messages too fast; wait {left} seconds", retry_after=left)

    async def aclose(self) -> None:
        await self.store.aclose()


def build_widget_limits(settings: Settings, *, prefix: str = "hub:webchat:") -> WidgetLimits:
    """Redis-backed when ``settings.redis_url`` is set, else in this process's memory."""
    store: CounterStore = (
        RedisCounters(settings.redis_url, prefix=prefix, what="chat rate limit")
        if settings.redis_url
        else MemoryCounters()
    )
    return WidgetLimits(store)
