"""The routing core's vocabulary: media, presence, queue rules and the decisions it makes.

Plain values only; times are seconds since the epoch (floats) so that the core does
arithmetic, not datetime objects. The service converts at its edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, get_args

from hub.routing.skills import SkillExpression

Media = Literal["voice", "chat", "email", "messaging"]
MEDIA: tuple[Media, ...] = get_args(Media)


class Presence(enum.StrEnum):
    """What an agent says about themselves."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class Activity(enum.StrEnum):
    """What the engine derives from an agent's work (shown beside the presence)."""

    IDLE = "idle"  # available with room for more work
    RINGING = "ringing"  # an offer waits for their answer
    ON_CALL = "on_call"  # holds a voice conversation
    WRAP_UP = "wrap_up"  # after a real-time conversation ended, for the queue's wrap-up time
    BUSY = "busy"  # every channel at capacity (or blocked by a call)


class Strategy(enum.StrEnum):
    """How a queue picks among free, eligible agents."""

    ROUND_ROBIN = "round_robin"  # whoever was given work longest ago (kept across restarts)
    LEAST_BUSY = "least_busy"  # lowest share of their capacity in use
    LONGEST_IDLE = "longest_idle"  # free the longest
    BEST_SKILL = "best_skill"  # highest levels in the skills the queue names


class Fallback(enum.StrEnum):
    """Which agents an asynchronous conversation may go to, widened while it waits."""

    AVAILABLE = "available"
    AWAY = "away"
    ANYONE = "anyone"  # any member of the queue, offline included


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One step of a queue's escalation; ``after`` counts from entering the queue (cumulative)."""

    after: float
    relief: int = 0  # lower required levels by this much
    skills: SkillExpression | None = None  # replace the required skills
    overflow_to: str | None = None  # move to this queue
    raise_priority: int = 0
    alert: bool = False  # tell supervisors (event, UI)

    @property
    def actions(self) -> list[str]:
        names = []
        if self.relief:
            names.append("widen")
        if self.skills is not None:
            names.append("skills")
        if self.overflow_to is not None:
            names.append("overflow")
        if self.raise_priority:
            names.append("raise_priority")
        if self.alert:
            names.append("alert")
        return names


@dataclass(frozen=True, slots=True)
class QueueRules:
    """A queue as the engine sees it, parsed from ``[[queues]]`` (``hub.routing.settings``)."""

    id: int
    name: str
    skills: SkillExpression | None = None
    priority: int = 0
    strategy: Strategy = Strategy.ROUND_ROBIN
    offer_timeout: float = 30.0
    away_after_missed: int = 2  # consecutive missed offers that set an agent away (0: never)
    reroute_grace: float = 120.0  # after an agent goes away/offline; negative: never re-route
    fallback: tuple[Fallback, ...] = (Fallback.AVAILABLE,)
    fallback_after: float = 300.0  # waiting time before each widening of ``fallback``
    wrap_up: float = 0.0
    overflow_when_nobody: str | None = None  # queue to use when no eligible member is logged in
    escalation: tuple[EscalationStep, ...] = ()
    service_level_seconds: float = 20.0  # T of "answered within T seconds"


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much work of each medium an agent holds at once; ``blocking`` media take the agent whole."""

    limits: dict[str, int] = field(default_factory=lambda: {"voice": 1, "chat": 3, "email": 8, "messaging": 5})
    blocking: frozenset[str] = frozenset({"voice"})

    def limit(self, media: str) -> int:
        return self.limits.get(media, 0)


# --- decisions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """Ask ``agent_id`` to take a real-time conversation before ``expires_at``."""

    conversation_id: int
    agent_id: int
    queue_id: int
    expires_at: float
    waited: float


@dataclass(frozen=True, slots=True)
class Assign:
    """Give an asynchronous conversation to ``agent_id`` (``fallback``: not an available agent)."""

    conversation_id: int
    agent_id: int
    queue_id: int
    waited: float
    fallback: Fallback = Fallback.AVAILABLE


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """The agent did not answer in time; the conversation is waiting again."""

    conversation_id: int
    agent_id: int
    queue_id: int
    missed_in_a_row: int


@dataclass(frozen=True, slots=True)
class OfferCancelled:
    """An offer was taken back before the agent answered (they went away, it was withdrawn)."""

    conversation_id: int
    agent_id: int
    queue_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class SetAway:
    """Set the agent away (``reason``: ``missed_offers``)."""

    agent_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """Take the conversation back from its agent (who went away or offline) into its queue."""

    conversation_id: int
    agent_id: int
    queue_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """An escalation step became due for a waiting conversation."""

    conversation_id: int
    queue_id: int
    step: int  # 1-based
    rule: EscalationStep
    waited: float


@dataclass(frozen=True, slots=True)
class Overflow:
    """Move a waiting conversation to another queue (by name)."""

    conversation_id: int
    from_queue_id: int
    to_queue: str
    reason: str


Decision = Offer | Assign | OfferTimedOut | OfferCancelled | SetAway | Requeue | Escalate | Overflow
