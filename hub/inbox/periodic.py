"""A background task that runs one round of work every ``interval`` seconds until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``round()`` now and then every ``interval`` seconds; a failed round is logged, not fatal."""

    def __init__(self, name: str, round: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self.interval = interval
        self._round = round
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def aclose(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._round()
            except Exception:
                log.exception("%s failed; trying again next round", self.name)
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except TimeoutError:
                pass
