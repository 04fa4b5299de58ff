"""Routing configuration: every key parsed into types, every mistake a ConfigError naming it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import QueueConfig, load_settings
from hub.errors import ConfigError
from hub.routing.model import Fallback, Strategy
from hub.routing.settings import parse_routing, parse_routing_tables

QUEUES = (QueueConfig("support"), QueueConfig("backup"))


def queue(**options: Any) -> tuple[QueueConfig, ...]:
    return (QueueConfig("support", options), QueueConfig("backup"))


def test_a_full_queue_table_is_parsed_into_typed_rules() -> None:
    parsed = parse_routing_tables(
        {"capacity": {"chat": 4}, "blocking_media": ["voice"]},
        queue(
            skills='language == "de"', priority=2, strategy="best_skill", offer_timeout="45s",
            away_after_missed_offers=3, reroute_after="5m", fallback=["available", "away"], fallback_after="10m",
            wrap_up=30, overflow_when_nobody="backup", service_level_seconds=15,
            escalation=[{"after": "2m", "widen_levels": 1}, {"after": "5m", "overflow": "backup", "alert": True}],
        ),
    )
    rules = parsed.queue("support")
    assert rules.skills is not None and rules.skills.source == 'language == "de"'
    assert (rules.priority, rules.strategy, rules.offer_timeout, rules.away_after_missed) == (2, Strategy.BEST_SKILL, 45.0, 3)
    assert (rules.reroute_grace, rules.fallback, rules.fallback_after, rules.wrap_up) == (
        300.0, (Fallback.AVAILABLE, Fallback.AWAY), 600.0, 30.0)
    assert [(s.after, s.actions) for s in rules.escalation] == [(120.0, ["widen"]), (300.0, ["overflow", "alert"])]
    assert parsed.capacity.limits == {"voice": 1, "chat": 4, "email": 8, "messaging": 5}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "random"}, "strategy must be one of round_robin, least_busy, longest_idle, best_skill"),
        ({"skills": "language =="}, "skill expression"),
        ({"priority": "high"}, "priority must be a whole number"),
        ({"offer_timeout": 0}, "offer_timeout must be more than 0 seconds"),
        ({"offer_timeout": "soon"}, "offer_timeout must be a duration"),
        ({"fallback": ["away"]}, "fallback must start with \"available\""),
        ({"fallback": ["available", "anyone", "away"]}, "widens in the order"),
        ({"fallback": ["available", "everybody"]}, "is not one of"),
        ({"overflow_when_nobody": "nowhere"}, "unknown queue 'nowhere'"),
        ({"overflow_when_nobody": "support"}, "cannot name the queue itself"),
        ({"escalation": [{"widen_levels": 1}]}, "'after' (time since entering the queue) is required"),
        ({"escalation": [{"after": 60}]}, "does nothing"),
        ({"escalation": [{"after": 60, "overflow": "nowhere"}]}, "unknown queue 'nowhere'"),
        ({"escalation": [{"after": 60, "alert": True}, {"after": 30, "alert": True}]}, "increasing 'after'"),
        ({"escalation": [{"after": 60, "alert": "yes"}]}, "alert must be true or false"),
        ({"stratgy": "round_robin"}, "unknown key(s) stratgy"),
    ],
)
def test_queue_mistakes_name_the_queue_and_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_routing_tables({}, queue(**options))
    assert "queue 'support'" in caught.value.detail
    assert message in caught.value.detail


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"capacity": {"fax": 1}}, "unknown medium 'fax'"),
        ({"capacity": {"chat": -1}}, "from 0 to 100"),
        ({"blocking_media": ["pigeon"]}, "unknown medium 'pigeon'"),
        ({"rules": [{"name": "x", "keywords": ["a"]}]}, "does nothing"),
        ({"rules": [{"name": "x", "priority": 3}]}, "has no condition"),
        ({"rules": [{"name": "x", "keywords": ["a"], "queue": "nowhere"}]}, "unknown queue 'nowhere'"),
        ({"calendars": {"office": {"timezone": "Mars/Olympus", "mon": "08:00-18:00"}}}, "unknown time zone"),
        ({"calendars": {"office": {"mon": "18:00-08:00"}}}, "closes before it opens"),
        ({"calendars": {"office": {"monday": "08:00-18:00"}}}, "is not a weekday"),
        ({"calendars": {"office": {"mon-fri": "8-18"}}}, "is not HH:MM-HH:MM"),
        ({"calendars": {"office": {"mon": "closed"}}}, "give opening hours"),
        ({"calendars": {"office": {"mon": "08:00-18:00", "holidays": ["24.12.2026"]}}}, "is not a date"),
        ({"calendars": {"office": {"mon": "08:00-18:00", "holiday_country": "XX"}}}, "no public holidays known"),
        ({"sla": [{"name": "std"}]}, "give at least one of"),
        ({"sla": [{"name": "std", "first_response": "1h", "calendar": "none"}]}, "unknown calendar 'none'"),
        ({"sla": [{"name": "std", "first_response": "1h", "warning_at": 1.5}]}, "warning_at must be between"),
        ({"lease": 0}, "lease must be more than 0 seconds"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_routing_table_mistakes_are_clear(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_routing_tables(table, QUEUES)
    assert message in caught.value.detail


def test_the_config_file_carries_routing_to_the_parser(tmp_path: Any) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[routing]\nstats_interval = "10s"\n[routing.calendars.office]\ntimezone = "Europe/Berlin"\n'
        'mon-fri = "08:00-18:00"\n[[routing.sla]]\nname = "std"\nfirst_response = "4h"\ncalendar = "office"\n'
        '[[queues]]\nname = "support"\nstrategy = "least_busy"\n',
        encoding="utf-8",
    )
    parsed = parse_routing(load_settings(path, env={"HUB_DATA_DIR": str(tmp_path)}))
    assert parsed.stats_interval == 10.0
    assert parsed.sla[0].goals == {"first_response": 14400.0}
    assert parsed.queue("support").strategy is Strategy.LEAST_BUSY


def test_the_demo_configuration_parses() -> None:
    env = {"HUB_DATA_DIR": "/tmp/hub-demo-config-test", "WEBFORM_TOKEN": "x", "SHOP_TOKEN": "x", "PORTAL_TOKEN": "x"}
    assert parse_routing(load_settings("config/hub.toml", env=env)).queues
