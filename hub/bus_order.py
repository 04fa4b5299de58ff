"""Put events heard from several publishers back into id order before local delivery.

Event ids become visible in the database in id order (see ``hub.events.write_events``),
but each process publishes after its own commit, so two processes -- or two group-commit
workers of one process -- can reach Redis in the opposite order. The sequencer holds an
event whose predecessor has not arrived yet, for at most ``window`` seconds.

Its promise to consumers: events come in strictly increasing, gap-free id order, except
where a release says ``gap``. A gap is announced when the sequencer cannot vouch for
what came before: its first event (it does not know the past), a predecessor given up
after the window (a publisher crashed between commit and publish, or a transaction
rolled back after taking an id), and an event older than one already released (late,
or a repeated publish). Consumers then re-read the events table, which holds every
committed event in id order. Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.events import Event


@dataclass(slots=True)
class Release:
    """Events that may be delivered now, in order; ``gap``: tell consumers to re-sync first."""

    events: list[Event] = field(default_factory=list)
    gap: bool = False


class Sequencer:
    """Reorders a stream of events by id, waiting at most ``window`` seconds for a missing id."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._next: int | None = None  # the id expected next; None until the first event
        self._held: dict[int, tuple[Event, float]] = {}  # id -> (event, deadline)

    def push(self, events: Iterable[Event], now: float) -> Release:
        """Take events as heard; return what may be delivered now."""
        out = Release()
        for event in events:
            if event.id is None:
                continue  # never written, so never deliverable in order
            if self._next is None or event.id == self._next:
                out.gap = out.gap or self._next is None
                self._next = event.id + 1
                out.events.append(event)
                self._drain(out.events)
            elif event.id < self._next:
                out.gap = True
                out.events.append(event)
            else:
                self._held.setdefault(event.id, (event, now + self.window))
        return out

    def expire(self, now: float) -> Release:
        """Give up on missing ids whose wait is over; a non-empty release is always a gap."""
        out = Release()
        while self._held and min(deadline for _, deadline in self._held.values()) <= now:
            self._next = min(self._held)
            out.gap = True
            self._drain(out.events)
        return out

    def next_deadline(self) -> float | None:
        """When ``expire`` next has work to do, or None when nothing is held."""
        return min((deadline for _, deadline in self._held.values()), default=None)

    def flush(self) -> Release:
        """Everything held, in order, as a gap; start afresh (after a reconnect or a re-sync notice)."""
        out = Release([self._held[i][0] for i in sorted(self._held)], gap=True)
        self._held.clear()
        self._next = None
        return out

    def _drain(self, out: list[Event]) -> None:
        assert self._next is not None
        while self._next in self._held:
            out.append(self._held.pop(self._next)[0])
            self._next += 1
