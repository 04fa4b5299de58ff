"""Ingest rules: what a new conversation's first message and contact say about its urgency.

A rule matches when all of its conditions hold (keywords: any of them, at the start of
a word, case-insensitively, in subject or text; contact attributes: every one equal;
channels, queues and saved segments of the customer record: one of them). Matching
rules apply in order: ``priority`` sets a floor, ``raise_priority`` adds, the first
rule naming a ``queue`` picks the queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ConfigError
from hub.routing.options import Options


@dataclass(frozen=True)
class IngestRule:
    name: str
    keywords: tuple[str, ...] = ()
    contact_attributes: Mapping[str, Any] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()  # names of saved segments (docs/crm.md); the contact is in one
    priority: int | None = None
    raise_priority: int = 0
    queue: str | None = None
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, facts: Facts) -> bool:
        if self.channels and facts.channel not in self.channels:
            return False
        if self.queues and facts.queue not in self.queues:
            return False
        if self.segments and facts.segments.isdisjoint(self.segments):
            return False
        for key, wanted in self.contact_attributes.items():
            if facts.contact_attributes.get(key) != wanted:
                return False
        if self._pattern is not None:
            return self._pattern.search(facts.subject) is not None or self._pattern.search(facts.text) is not None
        return True


@dataclass(frozen=True)
class Facts:
    """What the rules look at; the text is read in memory only, never logged or stored."""

    channel: str
    queue: str | None
    text: str = ""
    subject: str = ""
    contact_attributes: Mapping[str, Any] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()  # the rules' segments the contact is a member of


@dataclass(frozen=True)
class Outcome:
    priority: int
    queue: str | None
    matched: tuple[str, ...]


def rule_segments(rules: Sequence[IngestRule]) -> frozenset[str]:
    """The segment names any of ``rules`` asks about (the router looks up only these)."""
    return frozenset(name for rule in rules for name in rule.segments)


def apply_rules(rules: Sequence[IngestRule], facts: Facts, priority: int) -> Outcome:
    """The priority and queue the matching rules give a conversation that has ``priority``."""
    queue: str | None = None
    matched: list[str] = []
    for rule in rules:
        if not rule.matches(facts):
            continue
        matched.append(rule.name)
        if rule.priority is not None:
            priority = max(priority, rule.priority)
        priority += rule.raise_priority
        if queue is None and rule.queue is not None:
            queue = rule.queue
    return Outcome(priority, queue, tuple(matched))


def parse_rule(table: Mapping[str, Any], index: int, queue_names: set[str]) -> IngestRule:
    """One ``[[routing.rules]]`` table."""
    where = f"[[routing.rules]] #{index + 1}"
    options = Options(table, where)
    name = options.string("name") or f"rule-{index + 1}"
    where = f"routing rule {name!r}"
    options.where = where
    keywords = options.strings("keywords")
    attributes = dict(options.table_of("contact_attributes"))
    channels = options.strings("channels")
    queues = options.strings("queues")
    segments = options.strings("segments")
    priority = options.integer("priority", -1, minimum=0, maximum=1000) if options.has("priority") else None
    raise_by = options.integer("raise_priority", 0, minimum=0, maximum=1000)
    queue = options.string("queue")
    options.done()
    for q in (*queues, *([queue] if queue else [])):
        if q not in queue_names:
            raise ConfigError(f"{where}: unknown queue {q!r}")
    if priority is None and not raise_by and queue is None:
        raise ConfigError(f"{where}: does nothing; give priority, raise_priority or queue")
    if not (keywords or attributes or channels or queues or segments):
        raise ConfigError(
            f"{where}: has no condition; give keywords, contact_attributes, channels, queues or segments"
        )
    pattern = None
    if keywords:
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(k) for k in keywords) + ")", re.IGNORECASE)
    return IngestRule(name, keywords, attributes, channels, queues, segments, priority, raise_by, queue, pattern)

