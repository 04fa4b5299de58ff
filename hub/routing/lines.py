"""Waiting conversations and the indexes that make a routing decision cheap.

Waiting conversations sit in *lines*: one sorted list per (queue, medium, skill
variant, real-time or not), ordered by priority, then by how long the customer has waited. A variant is
the requirement a conversation is routed with (the queue's skills, or what escalation
widened them to), so an agent looks only at lines they qualify for.

Free agents sit in one sorted list per (queue, medium), ordered by the queue's
strategy, so the best free agent for a conversation is near the front.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from hub.routing.skills import SkillExpression

Variant = tuple[str, int]  # (skill expression source, "" for none; relief)
LineKey = tuple[int, str, Variant, bool]  # queue, medium, variant, real-time


@dataclass(slots=True)
class Item:
    """A conversation waiting in a queue (or offered to an agent right now)."""

    conversation_id: int
    queue_id: int
    media: str
    realtime: bool
    priority: int
    since: float  # when the customer started waiting: the age that orders a line
    entered: float  # when it entered this queue: escalation steps count from here
    channel: str = ""
    step: int = 0  # escalation steps applied in this queue
    relief: int = 0
    skills: SkillExpression | None = None  # replaces the queue's skills after an escalation step
    excluded: dict[int, float] = field(default_factory=dict)  # agent id -> until
    fallback: int = 0  # how far the availability fallback has widened
    offered_to: int | None = None
    offer_expires: float = 0.0
    epoch: int = 0  # bumped when it changes queue; stale timers compare it

    def line_key(self) -> tuple[int, float, int]:
        return (-self.priority, self.since, self.conversation_id)

    def variant(self, queue_skills: SkillExpression | None) -> Variant:
        expression = self.skills if self.skills is not None else queue_skills
        return (expression.source if expression is not None else "", self.relief)

    def excludes(self, agent_id: int, now: float) -> bool:
        until = self.excluded.get(agent_id)
        return until is not None and until > now


class Lines:
    """Every waiting (not offered) item, by line."""

    def __init__(self) -> None:
        self._lines: dict[LineKey, SortedList] = {}
        self._where: dict[int, LineKey] = {}  # conversation id -> its line
        self.by_queue_variants: dict[int, dict[Variant, int]] = {}  # queue -> variant -> items

    def __contains__(self, conversation_id: int) -> bool:
        return conversation_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def add(self, item: Item, variant: Variant) -> None:
        key: LineKey = (item.queue_id, item.media, variant, item.realtime)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = SortedList()
        line.add((item.line_key(), item))
        self._where[item.conversation_id] = key
        counts = self.by_queue_variants.setdefault(item.queue_id, {})
        counts[variant] = counts.get(variant, 0) + 1

    def remove(self, item: Item) -> bool:
        key = self._where.pop(item.conversation_id, None)
        if key is None:
            return False
        line = self._lines[key]
        line.remove((item.line_key(), item))
        if not line:
            del self._lines[key]
        counts = self.by_queue_variants[key[0]]
        counts[key[2]] -= 1
        if not counts[key[2]]:
            del counts[key[2]]
        return True

    def variants(self, queue_id: int) -> list[Variant]:
        return list(self.by_queue_variants.get(queue_id, ()))

    def line(self, queue_id: int, media: str, variant: Variant, realtime: bool) -> Iterator[Item]:
        """The items of one line, best first."""
        line = self._lines.get((queue_id, media, variant, realtime))
        if line is None:
            return iter(())
        return (entry[1] for entry in line)


class FreeAgents:
    """Agents who could take work, per (queue, medium), in the queue's strategy order."""

    def __init__(self) -> None:
        self._lists: dict[tuple[int, str], SortedList] = {}
        self._keys: dict[tuple[int, int, str], tuple[object, ...]] = {}  # (agent, queue, media) -> entry

    def set(self, agent_id: int, queue_id: int, media: str, key: tuple[object, ...] | None) -> None:
        """Put the agent at ``key`` in the (queue, medium) list, or take them out (None)."""
        slot = (agent_id, queue_id, media)
        old = self._keys.get(slot)
        if old == key:
            return
        lst = self._lists.get((queue_id, media))
        if old is not None and lst is not None:
            lst.remove(old)
            del self._keys[slot]
        if key is not None:
            if lst is None:
                lst = self._lists[(queue_id, media)] = SortedList()
            lst.add(key)
            self._keys[slot] = key

    def ordered(self, queue_id: int, media: str) -> Iterator[int]:
        """Agent ids, best first (the last element of every key is the agent id)."""
        lst = self._lists.get((queue_id, media))
        if lst is None:
            return iter(())
        return (int(key[-1]) for key in lst)

    def count(self, queue_id: int, media: str) -> int:
        lst = self._lists.get((queue_id, media))
        return 0 if lst is None else len(lst)
