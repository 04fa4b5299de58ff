"""Group commit under steady load: a batch that follows a bigger one waits for its senders."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hub.inbox.batcher import GroupCommitter


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def run(self, items: Sequence[int]) -> list[int]:
        await self.gate.wait()
        self.batches.append(list(items))
        return list(items)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_senders_coming_back_after_a_big_batch_share_one_commit() -> None:
    rec = Recorder()
    # A generous window: the worker stops waiting as soon as the senders are back.
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run, linger_share=1e6, max_linger=30.0)
    await committer.start()
    rec.gate.clear()
    first = [asyncio.create_task(committer.submit(0))]
    await settle()  # the worker took item 0 and waits at the gate
    first += [asyncio.create_task(committer.submit(i)) for i in range(1, 5)]
    await settle()
    rec.gate.set()
    await asyncio.gather(*first)
    assert rec.batches == [[0], [1, 2, 3, 4]]

    early = asyncio.create_task(committer.submit(5))
    await settle()  # the worker took item 5 alone and waits for the other three
    assert rec.batches == [[0], [1, 2, 3, 4]]
    late = [asyncio.create_task(committer.submit(i)) for i in (6, 7, 8)]
    await asyncio.gather(early, *late)
    assert rec.batches[-1] == [5, 6, 7, 8]
    await committer.aclose()


async def test_a_lone_message_after_an_idle_moment_is_committed_alone() -> None:
    rec = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run, linger_share=1.0, max_linger=0.05)
    await committer.start()
    await asyncio.gather(*(committer.submit(i) for i in range(4)))
    await asyncio.sleep(0.01)  # idle for longer than the last batch took: no one is coming back
    assert await committer.submit(9) == 9
    assert rec.batches[-1] == [9]
    await committer.aclose()


async def test_closing_while_lingering_commits_what_was_taken() -> None:
    rec = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(rec.run, linger_share=1e6, max_linger=30.0)
    await committer.start()
    rec.gate.clear()
    first = [asyncio.create_task(committer.submit(0))]
    await settle()
    first += [asyncio.create_task(committer.submit(i)) for i in range(1, 4)]
    await settle()
    rec.gate.set()
    await asyncio.gather(*first)
    lone = asyncio.create_task(committer.submit(7))
    await settle()
    await committer.aclose()
    assert await lone == 7
