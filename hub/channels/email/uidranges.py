"""A compact set of UIDs as sorted, merged ranges: "1-5000,5002-7000" for JSON state."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator


class UidRanges:
    """UIDs the mailbox has dealt with. Mostly one range, so storing it stays tiny."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(ranges):
            self.add_range(start, end)

    @classmethod
    def parse(cls, text: str) -> UidRanges:
        ranges: list[tuple[int, int]] = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            start, _, end = part.partition("-")
            ranges.append((int(start), int(end or start)))
        return cls(ranges)

    def __str__(self) -> str:
        return ",".join(f"{s}-{e}" if s != e else str(s) for s, e in zip(self._starts, self._ends, strict=True))

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int):
            return False
        index = bisect.bisect_right(self._starts, uid) - 1
        return index >= 0 and uid <= self._ends[index]

    def __len__(self) -> int:
        return sum(e - s + 1 for s, e in zip(self._starts, self._ends, strict=True))

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end + 1)

    def add(self, uid: int) -> None:
        self.add_range(uid, uid)

    def add_range(self, start: int, end: int) -> None:
        if end < start:
            raise ValueError("range end before start")
        # Merge with every range that overlaps or touches [start, end].
        low = bisect.bisect_left(self._ends, start - 1)
        high = bisect.bisect_right(self._starts, end + 1)
        if low < high:
            start = min(start, self._starts[low])
            end = max(end, self._ends[high - 1])
        self._starts[low:high] = [start]
        self._ends[low:high] = [end]

    def count_in(self, uids: Iterable[int]) -> int:
        return sum(1 for uid in uids if uid in self)
