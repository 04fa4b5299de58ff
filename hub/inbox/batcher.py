"""Group commit: concurrent ingests share one transaction.

A commit costs about a millisecond on this class of machine, so committing each
message alone caps throughput near 1,000/s. The batcher takes whatever is waiting
when the previous batch finished and commits it together; an idle hub adds no
delay (a lone message is committed at once), a busy hub commits hundreds at a time.

Under steady load the senders of one batch all get their answer at the same moment
and send again together, a moment after the next batch started with the few that
were already waiting. Left alone, batches then alternate between many and few
items, and the small ones cost a whole round of statements each. So when a batch
starts right after a bigger one, the worker lingers briefly (a quarter of the last
batch's duration, at most ``MAX_LINGER``) until as many items wait as last time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_CONFLICT_RETRIES = 3
LINGER_SHARE = 0.25
MAX_LINGER = 0.005  # seconds


class BatcherClosed(RuntimeError):
    pass


class _Lane(Generic[T, R]):
    """One worker's queue, and the future it waits on while lingering for ``wanted`` items."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[T, asyncio.Future[R]] | None] = asyncio.Queue()
        self.waiter: asyncio.Future[None] | None = None
        self.wanted = 0

    def put(self, entry: tuple[T, asyncio.Future[R]] | None) -> None:
        self.queue.put_nowait(entry)
        waiter = self.waiter
        if waiter is not None and (entry is None or self.queue.qsize() >= self.wanted) and not waiter.done():
            waiter.set_result(None)


class GroupCommitter(Generic[T, R]):
    """Collects items from many callers and runs them through ``run_batch`` together.

    ``run_batch`` must be all-or-nothing (one transaction). A unique-key conflict
    with another writer (another hub process) retries the batch; any other failure
    re-runs the items one by one, so one bad item cannot fail its neighbours.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 256,
        workers: int = 1,
        partition: Callable[[T], int] | None = None,
        linger_share: float = LINGER_SHARE,
        max_linger: float = MAX_LINGER,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._partition = partition
        self._linger_share = linger_share
        self._max_linger = max_linger
        # One lane per worker: ``partition`` sends related items (one sender's messages)
        # to the same worker, so concurrent batches rarely race for the same rows.
        self._lanes: list[_Lane[T, R]] = [_Lane() for _ in range(max(1, workers))]
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(lane), name=f"group-commit-{i}") for i, lane in enumerate(self._lanes)
        ]

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait until its batch committed."""
        if self._closed:
            raise BatcherClosed("the hub is shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        lanes = self._lanes
        if len(lanes) == 1:
            lane = lanes[0]
        elif self._partition is not None:
            lane = lanes[self._partition(item) % len(lanes)]
        else:
            lane = min(lanes, key=lambda candidate: candidate.queue.qsize())
        lane.put((item, future))
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Stop taking items, finish everything already queued, stop the workers."""
        self._closed = True
        for lane in self._lanes:
            lane.put(None)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self, lane: _Lane[T, R]) -> None:
        loop = asyncio.get_running_loop()
        last_size, last_duration = 0, 0.0
        stopping = False
        while not stopping:
            idle_since = loop.time()
            first = await lane.queue.get()
            if first is None:
                break
            batch = [first]
            stopping = self._take(lane, batch)
            linger = min(self._max_linger, last_duration * self._linger_share)
            if not stopping and len(batch) < last_size and loop.time() - idle_since < linger:
                # Busy, and the last batch's senders are on their way back: wait for them.
                await self._linger(lane, min(last_size, self._max_batch) - len(batch), linger)
                stopping = self._take(lane, batch)
            started = loop.time()
            await self._commit(batch)
            last_size, last_duration = len(batch), loop.time() - started

    def _take(self, lane: _Lane[T, R], batch: list[tuple[T, asyncio.Future[R]]]) -> bool:
        """Move waiting items into ``batch``; True when the stop sentinel came up."""
        queue = lane.queue
        while len(batch) < self._max_batch and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                return True
            batch.append(nxt)
        return False

    async def _linger(self, lane: _Lane[T, R], more: int, seconds: float) -> None:
        """Wait until ``more`` items are queued, or ``seconds`` passed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiter, lane.wanted = waiter, more
        try:
            async with asyncio.timeout(seconds):
                await waiter
        except TimeoutError:
            pass
        finally:
            lane.waiter = None

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._run_with_retries(items)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            log.warning("batch of %d failed (%s); committing its items one by one", len(batch), type(exc).__name__)
            for item, future in batch:
                try:
                    (result,) = await self._run_with_retries([item])
                except Exception as item_exc:
                    _settle(future, exc=item_exc)
                else:
                    _settle(future, result=result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _run_with_retries(self, items: Sequence[T]) -> Sequence[R]:
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                return await self._run_batch(items)
            except (IntegrityError, OperationalError) as exc:
                if attempt == MAX_CONFLICT_RETRIES - 1 or not _is_retryable(exc):
                    raise
                log.info("batch conflicted with another writer, retrying (attempt %d)", attempt + 1)
        raise AssertionError("unreachable")


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # another process inserted the same key first; the retry sees its row
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "deadlock" in text or "database is locked" in text or "serializ" in text


def _settle(future: asyncio.Future[R], *, result: R | None = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
