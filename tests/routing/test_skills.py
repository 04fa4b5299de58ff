"""Required-skill expressions: what they accept, what they mean, and how they fail."""

from __future__ import annotations

import pytest

from hub.routing.skills import SkillExpressionError, parse_skills

AGENT = {"language.de": 5, "language.en": 2, "product.billing": 3, "vip": 1}

CASES = [
    ('language == "de"', True),
    ('language == "fr"', False),
    ('language != "fr"', True),
    ('language in ["fr", "de"]', True),
    ('language in ["fr", "it"]', False),
    ('language not in ["fr", "it"]', True),
    ('language == "de" and product in ["billing"]', True),
    ('language == "de" and product in ["refunds"]', False),
    ('language == "fr" or vip', True),
    ("not vip", False),
    ("language.de >= 5", True),
    ("language.de > 5", False),
    ("language.en >= 3", False),
    ("language.en < 3", True),
    ("language.en <= 2 and language.en == 2", True),
    ("trainee", False),
    ("trainee >= 1", False),
    ("(vip or trainee) and not (language.en > 4)", True),
    ("true", True),
    ("not false and true", True),
    ("tier-1 == 'gold'", False),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_expressions_match_an_agent(source: str, expected: bool) -> None:
    assert parse_skills(source).matches(AGENT) is expected


@pytest.mark.parametrize(
    ("source", "relief", "expected"),
    [
        ("language.en >= 3", 1, True),  # widened by one level
        ("language.en >= 5", 2, False),
        ("language.fr >= 3", 5, False),  # widening lowers to 1 at most: the skill stays required
        ("language.de > 6", 1, False),
        ("language.de > 6", 2, True),
        ("language.en < 3", 5, True),  # upper bounds are not widened
    ],
)
def test_relief_lowers_level_thresholds_but_never_drops_a_skill(source: str, relief: int, expected: bool) -> None:
    assert parse_skills(source).matches(AGENT, relief) is expected


def test_the_skills_an_expression_names_give_the_best_skill_score() -> None:
    expression = parse_skills('language == "de" and (product in ["billing", "refunds"] or vip)')
    assert expression.skills == {"language.de", "product.billing", "product.refunds", "vip"}
    assert expression.score(AGENT) == 5 + 3 + 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "non-empty"),
        ("language ==", "expected a number or a quoted value at the end"),
        ('language == "de" and', "expected a skill name"),
        ("(vip", "expected ')'"),
        ("vip vip", "expected 'and', 'or' or the end"),
        ('language in "de"', "expected '['"),
        ("language in []", "at least one value"),
        ('language >= "de"', "needs a number"),
        ("language == de", "expected a number or a quoted value"),
        ("__import__('os').system('x')", "unexpected character"),
        ("vip; drop", "unexpected character"),
        ("(" * 40 + "vip" + ")" * 40, "nested more than"),
        ("x" * 2001, "at most 2000"),
    ],
)
def test_bad_expressions_are_refused_with_the_spot(source: str, message: str) -> None:
    with pytest.raises(SkillExpressionError) as caught:
        parse_skills(source)
    assert message in caught.value.detail
