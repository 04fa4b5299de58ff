"""Routing configuration: ``[[queues]]`` options and ``[routing]`` parsed into typed values.

Every key is documented in docs/routing.md; a wrong key or value stops the start with
a ConfigError naming the queue (or table) and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hub.config import QueueConfig, Settings
from hub.errors import ConfigError
from hub.routing.calendar import Calendar, parse_calendars
from hub.routing.model import MEDIA, Capacity, EscalationStep, Fallback, QueueRules, Strategy
from hub.routing.options import Options
from hub.routing.rules import IngestRule, parse_rule
from hub.routing.skills import SkillExpression, SkillExpressionError, parse_skills
from hub.routing.sla import SlaPolicy, parse_sla_policies

STRATEGIES = {s.value: s for s in Strategy}
FALLBACKS = {f.value: f for f in Fallback}
DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "email": 8, "messaging": 5}


@dataclass(frozen=True)
class RoutingSettings:
    """Everything the router needs from the config file. Queue ids are 0 until ``with_ids``."""

    queues: tuple[QueueRules, ...]
    capacity: Capacity
    rules: tuple[IngestRule, ...] = ()
    calendars: Mapping[str, Calendar] | None = None
    sla: tuple[SlaPolicy, ...] = ()
    stats_interval: float = 5.0
    stats_window: float = 1800.0
    lease_seconds: float = 10.0
    enabled: bool = True

    def with_ids(self, ids: Mapping[str, int]) -> RoutingSettings:
        """The same settings with the database ids of the queues filled in."""
        return replace(self, queues=tuple(replace(q, id=ids[q.name]) for q in self.queues))

    def queue(self, name: str) -> QueueRules:
        for rules in self.queues:
            if rules.name == name:
                return rules
        raise KeyError(name)


def parse_capacity(table: Mapping[str, Any], where: str, base: Mapping[str, int] = DEFAULT_CAPACITY) -> dict[str, int]:
    """Capacity per medium: ``{voice = 1, chat = 3, email = 8, messaging = 5}``."""
    limits = dict(base)
    for media, value in table.items():
        if media not in MEDIA:
            raise ConfigError(f"{where}: unknown medium {media!r} (use {', '.join(MEDIA)})")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise ConfigError(f"{where}: capacity for {media} must be a whole number from 0 to 100")
        limits[media] = value
    return limits


def parse_queue(config: QueueConfig, queue_names: set[str]) -> QueueRules:
    """One ``[[queues]]`` table's routing options."""
    options = Options(config.options, f"queue {config.name!r}")
    skills_source = options.string("skills")
    fallback_names = options.strings("fallback", ("available",))
    if not fallback_names or fallback_names[0] != "available" or len(set(fallback_names)) != len(fallback_names):
        raise ConfigError(
            f"queue {config.name!r}: fallback must start with \"available\" and may add \"away\", then \"anyone\""
        )
    for name in fallback_names:
        if name not in FALLBACKS:
            raise ConfigError(f"queue {config.name!r}: fallback {name!r} is not one of {', '.join(FALLBACKS)}")
    fallback = tuple(FALLBACKS[n] for n in fallback_names)
    if list(fallback) != sorted(fallback, key=list(Fallback).index):
        raise ConfigError(f"queue {config.name!r}: fallback widens in the order available, away, anyone")
    reroute = options.boolean("reroute", True)
    rules = QueueRules(
        id=0,
        name=config.name,
        skills=_skills(skills_source, f"queue {config.name!r}: skills"),
        priority=options.integer("priority", 0, minimum=-1000, maximum=1000),
        strategy=options.choice("strategy", Strategy.ROUND_ROBIN, STRATEGIES),
        offer_timeout=_positive(options.duration("offer_timeout", 30.0), options, "offer_timeout"),
        away_after_missed=options.integer("away_after_missed_offers", 2, minimum=0, maximum=100),
        reroute_grace=(options.duration("reroute_after", 120.0) or 0.0) if reroute else -1.0,
        fallback=fallback,
        fallback_after=_positive(options.duration("fallback_after", 300.0), options, "fallback_after"),
        wrap_up=options.duration("wrap_up", 0.0) or 0.0,
        overflow_when_nobody=options.string("overflow_when_nobody"),
        escalation=tuple(
            _step(step, i, config.name, queue_names) for i, step in enumerate(options.tables("escalation"))
        ),
        service_level_seconds=_positive(options.duration("service_level_seconds", 20.0), options, "service_level_seconds"),
    )
    options.done()
    if rules.overflow_when_nobody is not None and rules.overflow_when_nobody not in queue_names:
        raise ConfigError(f"queue {config.name!r}: overflow_when_nobody names unknown queue {rules.overflow_when_nobody!r}")
    if rules.overflow_when_nobody == config.name:
        raise ConfigError(f"queue {config.name!r}: overflow_when_nobody cannot name the queue itself")
    afters = [s.after for s in rules.escalation]
    if afters != sorted(afters) or len(set(afters)) != len(afters):
        raise ConfigError(f"queue {config.name!r}: escalation steps need increasing 'after' times (they add up from entering the queue)")
    return rules


def _skills(source: str | None, where: str) -> SkillExpression | None:
    if source is None:
        return None
    try:
        return parse_skills(source)
    except SkillExpressionError as exc:
        raise SkillExpressionError(f"{where}: {exc.detail}") from None


def _positive(value: float | None, options: Options, key: str) -> float:
    if value is None or value <= 0:
        raise ConfigError(f"{options.where}: {key} must be more than 0 seconds")
    return value


def _step(table: Mapping[str, Any], index: int, queue: str, queue_names: set[str]) -> EscalationStep:
    where = f"queue {queue!r}: escalation step {index + 1}"
    options = Options(table, where)
    after = options.duration("after", None)
    if after is None:
        raise ConfigError(f"{where}: 'after' (time since entering the queue) is required")
    skills = options.string("skills")
    step = EscalationStep(
        after=after,
        relief=options.integer("widen_levels", 0, minimum=0, maximum=100),
        skills=_skills(skills, f"{where}: skills"),
        overflow_to=options.string("overflow"),
        raise_priority=options.integer("raise_priority", 0, minimum=0, maximum=1000),
        alert=options.boolean("alert", False),
    )
    options.done()
    if step.overflow_to is not None and step.overflow_to not in queue_names:
        raise ConfigError(f"{where}: overflow names unknown queue {step.overflow_to!r}")
    if not step.actions:
        raise ConfigError(f"{where}: does nothing; give widen_levels, skills, overflow, raise_priority or alert")
    return step


def parse_routing(settings: Settings) -> RoutingSettings:
    """The routing settings of ``settings`` (queues from ``[[queues]]``, the rest from ``[routing]``)."""
    return parse_routing_tables(settings.routing, settings.queues)


def parse_routing_tables(table: Mapping[str, Any], queues: Sequence[QueueConfig]) -> RoutingSettings:
    names = {q.name for q in queues}
    options = Options(table, "[routing]")
    limits = parse_capacity(options.table_of("capacity"), "[routing] capacity")
    blocking = options.strings("blocking_media", ("voice",))
    for media in blocking:
        if media not in MEDIA:
            raise ConfigError(f"[routing] blocking_media: unknown medium {media!r} (use {', '.join(MEDIA)})")
    calendars = parse_calendars(options.table_of("calendars"))
    result = RoutingSettings(
        queues=tuple(parse_queue(q, names) for q in queues),
        capacity=Capacity(limits, frozenset(blocking)),
        rules=tuple(parse_rule(r, i, names) for i, r in enumerate(options.tables("rules"))),
        calendars=calendars,
        sla=parse_sla_policies(options.tables("sla"), calendars, names),
        stats_interval=_positive(options.duration("stats_interval", 5.0), options, "stats_interval"),
        stats_window=_positive(options.duration("stats_window", 1800.0), options, "stats_window"),
        lease_seconds=_positive(options.duration("lease", 10.0), options, "lease"),
        enabled=options.boolean("enabled", True),
    )
    options.done()
    return result


def agent_capacity(base: Capacity, override: Mapping[str, Any] | None) -> Capacity:
    """An agent's capacity: the defaults, with their own limits where set."""
    if not override:
        return base
    return Capacity(parse_capacity(override, "agent capacity", base.limits), base.blocking)
