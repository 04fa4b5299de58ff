"""Ingest rules: keywords and VIP contacts raise priority or pick a queue."""

from __future__ import annotations

from hub.routing.rules import Facts, apply_rules, parse_rule, rule_segments

QUEUES = {"support", "complaints", "vip"}
COMPLAINT = parse_rule({"name": "complaint", "keywords": ["Beschwerde", "complaint"], "queue": "complaints",
                        "priority": 3}, 0, QUEUES)
VIP = parse_rule({"name": "vip", "contact_attributes": {"vip": True}, "raise_priority": 2, "queue": "vip"}, 1, QUEUES)


def facts(text: str = "", subject: str = "", **attributes: object) -> Facts:
    return Facts("web-form", "support", text, subject, attributes)


def test_keywords_match_at_word_starts_in_text_or_subject_whatever_the_case() -> None:
    assert COMPLAINT.matches(facts("ich möchte mich BESCHWEREN"))is False
    assert COMPLAINT.matches(facts("Meine Beschwerden bleiben unbeantwortet"))
    assert COMPLAINT.matches(facts(subject="Formal complaint"))
    assert not COMPLAINT.matches(facts("uncomplaintive"))


def test_matching_rules_apply_in_order_first_queue_wins() -> None:
    both = apply_rules([COMPLAINT, VIP], facts("complaint!", vip=True), 1)
    assert (both.priority, both.queue, both.matched) == (5, "complaints", ("complaint", "vip"))
    vip_only = apply_rules([COMPLAINT, VIP], facts("hello", vip=True), 1)
    assert (vip_only.priority, vip_only.queue) == (3, "vip")
    none = apply_rules([COMPLAINT, VIP], facts("hello", vip=False), 1)
    assert (none.priority, none.queue, none.matched) == (1, None, ())


def test_a_segment_rule_matches_a_contact_in_one_of_its_segments() -> None:
    rule = parse_rule({"name": "key-accounts", "segments": ["Key accounts", "VIP"], "raise_priority": 2}, 2, QUEUES)
    assert rule.segments == ("Key accounts", "VIP")
    assert rule.matches(Facts("web-form", "support", segments=frozenset({"VIP", "Berlin"})))
    assert not rule.matches(Facts("web-form", "support", segments=frozenset({"Berlin"})))
    assert not rule.matches(facts("hello"))
    assert rule_segments([COMPLAINT, rule, VIP]) == {"Key accounts", "VIP"}
