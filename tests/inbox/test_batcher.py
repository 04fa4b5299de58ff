"""Group commit: batching, isolation of a bad item, conflict retries, draining on close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import IntegrityError

from hub.inbox.batcher import BatcherClosed, GroupCommitter


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.conflicts_left = 0

    async def run(self, items: Sequence[int]) -> list[int]:
        await self.gate.wait()
        if self.conflicts_left:
            self.conflicts_left -= 1
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        if 13 in items:
            raise ValueError("unlucky item")
        self.batches.append(list(items))
        return [i * 10 for i in items]


async def test_items_waiting_while_a_batch_commits_share_the_next_commit() -> None:
    rec = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run)
    await committer.start()
    rec.gate.clear()
    first = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(committer.submit(i)) for i in range(2, 12)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 10
    assert [await t for t in rest] == [i * 10 for i in range(2, 12)]
    assert rec.batches == [[1], list(range(2, 12))]
    await committer.aclose()


async def test_one_failing_item_does_not_fail_its_neighbours() -> None:
    rec = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run)
    await committer.start()
    rec.gate.clear()
    tasks = [asyncio.create_task(committer.submit(i)) for i in (12, 13, 14)]
    await asyncio.sleep(0)
    rec.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == 120 and results[2] == 140
    assert isinstance(results[1], ValueError)
    await committer.aclose()


async def test_a_unique_conflict_with_another_writer_is_retried() -> None:
    rec = Recorder()
    rec.conflicts_left = 2
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run)
    await committer.start()
    assert await committer.submit(5) == 50
    await committer.aclose()


async def test_close_finishes_accepted_items_and_refuses_new_ones() -> None:
    rec = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run)
    await committer.start()
    rec.gate.clear()
    tasks = [asyncio.create_task(committer.submit(i)) for i in range(5)]
    await asyncio.sleep(0)
    closing = asyncio.create_task(committer.aclose())
    await asyncio.sleep(0)
    rec.gate.set()
    await closing
    assert [t.result() for t in tasks] == [0, 10, 20, 30, 40]
    with pytest.raises(BatcherClosed):
        await committer.submit(99)
