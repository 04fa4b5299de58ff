"""Progress of long CLI work: a bar on a terminal, plain lines in logs and CI.

``with progress("demo", total=200, unit="conversations") as bar: bar.advance()``
draws a tqdm bar when stderr is a terminal, and otherwise writes a few lines such as
``demo: 40/200 conversations`` (about every tenth of the way, and at the end), so
that a log file shows progress without thousands of redraws.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Counts finished items of a known total and reports them on ``stream``."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "items",
        stream: TextIO | None = None,
        bar: bool | None = None,
        steps: int = 10,
    ) -> None:
        self.label = label
        self.total = max(0, total)
        self.unit = unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        use_bar = _is_terminal(self._stream) if bar is None else bar
        self._bar: Any = (
            tqdm(total=self.total, desc=label, unit=f" {unit}", file=self._stream, leave=True, dynamic_ncols=True)
            if use_bar
            else None
        )
        self._every = max(1, -(-self.total // max(1, steps)))  # ceil(total / steps)
        self._closed = False

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more finished items."""
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self.done >= self.total or self.done // self._every != (self.done - count) // self._every:
            self._line()

    def close(self) -> None:
        """Finish the report; a plain report always ends with its final count."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.done < self.total:
            self._line()

    def _line(self) -> None:
        self._stream.write(f"{self.label}: {self.done}/{self.total} {self.unit}\n")
        self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def progress(label: str, total: int, *, unit: str = "items", stream: TextIO | None = None) -> Progress:
    """A progress report for ``total`` items: a bar on a terminal, plain lines otherwise."""
    return Progress(label, total, unit=unit, stream=stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
