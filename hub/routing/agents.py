"""An agent as the routing core tracks them: presence, skills, queues, load per medium."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.routing.model import Activity, Capacity, Presence


@dataclass(slots=True)
class Held:
    """A conversation an agent holds (assigned and open)."""

    media: str
    queue_id: int | None
    since: float  # when the customer first waited in a queue for it
    realtime: bool
    answered: bool = False
    priority: int = 0


@dataclass(slots=True)
class AgentState:
    """One agent's routing state. The engine changes it; everyone else reads it."""

    id: int
    presence: Presence
    skills: dict[str, int]
    queues: frozenset[int]
    capacity: Capacity
    last_routed: float = float("-inf")  # when they were last offered or given work: round robin's key
    idle_since: float = 0.0
    missed: int = 0  # offers missed in a row
    wrap_up_until: float = 0.0
    presence_epoch: int = 0  # bumped on every presence change; stale grace timers compare it
    held: dict[int, Held] = field(default_factory=dict)
    offered: dict[int, str] = field(default_factory=dict)  # conversation id -> media
    load: dict[str, int] = field(default_factory=dict)

    def used(self, media: str) -> int:
        return self.load.get(media, 0)

    def blocked(self) -> bool:
        """Holding (or being offered) a blocking medium, e.g. a call, takes the agent whole."""
        load = self.load
        return bool(load) and any(load.get(m, 0) for m in self.capacity.blocking)

    def has_room(self, media: str, now: float) -> bool:
        """Capacity left for ``media``, ignoring presence."""
        if self.wrap_up_until > now or self.blocked():
            return False
        return self.used(media) < self.capacity.limit(media)

    def can_take(self, media: str, now: float, *, realtime: bool) -> bool:
        """Available, with room for ``media``; a pending offer keeps further real-time work away."""
        if self.presence is not Presence.AVAILABLE:
            return False
        if realtime and self.offered:
            return False
        return self.has_room(media, now)

    def busy_share(self) -> float:
        """Share of total capacity in use (least-busy strategy)."""
        total = sum(self.capacity.limits.values()) or 1
        return sum(self.load.values()) / total

    def add(self, media: str) -> None:
        self.load[media] = self.load.get(media, 0) + 1

    def remove(self, media: str) -> None:
        left = self.load.get(media, 0) - 1
        if left > 0:
            self.load[media] = left
        else:
            self.load.pop(media, None)

    def activity(self, now: float) -> Activity:
        """The derived busy state shown beside the presence."""
        if self.offered:
            return Activity.RINGING
        if any(h.media == "voice" for h in self.held.values()):
            return Activity.ON_CALL
        if self.wrap_up_until > now:
            return Activity.WRAP_UP
        if self.blocked() or not any(self.used(m) < n for m, n in self.capacity.limits.items() if n > 0):
            return Activity.BUSY
        return Activity.IDLE
