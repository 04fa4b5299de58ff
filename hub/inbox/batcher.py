"""Group commit: concurrent ingests share one transaction.

A commit costs about a millisecond on this class of machine, so committing each
message alone caps throughput near 1,000/s. The batcher takes whatever is waiting
when the previous batch finished and commits it together; an idle hub adds no
delay (a lone message is committed at once), a busy hub commits hundreds at a time.
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


class BatcherClosed(RuntimeError):
    pass


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
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._workers = workers
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"group-commit-{i}") for i in range(self._workers)]

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait until its batch committed."""
        if self._closed:
            raise BatcherClosed("the hub is shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Stop taking items, finish everything already queued, stop the workers."""
        self._closed = True
        for _ in self._tasks:
            self._queue.put_nowait(None)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            await self._commit(batch)

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
