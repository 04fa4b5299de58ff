"""Required-skill expressions: a small, safe language parsed by hand (never ``eval``).

An agent's skills are names with levels (1-100), e.g. ``{"language.de": 5,
"product.billing": 3, "vip": 1}``. A queue requires skills with an expression::

    language == "de" and product in ["billing", "refunds"]
    (language.de >= 3 or language.en >= 5) and not trainee

- ``name`` alone: the agent holds the skill ``name`` (any level).
- ``name == "v"`` / ``name != "v"``: the agent holds / lacks ``name.v``.
- ``name in ["a", "b"]`` / ``name not in [...]``: holds one of / none of ``name.a``, ``name.b``.
- ``name >= 3`` (also ``>``, ``<=``, ``<``, ``==``, ``!=`` with a number): the skill's
  level, 0 when the agent lacks it.
- ``and``, ``or``, ``not``, parentheses, ``true``, ``false``.

Escalation can *widen* an expression: ``relief`` lowers every ``>=``/``>`` level
threshold by that many levels, but never below 1, so widening never drops a skill.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hub.errors import ConfigError

Skills = Mapping[str, int]
Predicate = Callable[[Skills, int], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+)
      | (?P<string>"[^"\\]*"|'[^'\\]*')
      | (?P<op>==|!=|>=|<=|>|<|\(|\)|\[|\]|,)
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
MAX_LENGTH = 2000
MAX_DEPTH = 32  # nesting of parentheses and 'not'; keeps the recursive parser far from Python's limit


class SkillExpressionError(ConfigError):
    """A required-skill expression does not parse; the message points at the spot."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | string | op | name | keyword | end
    text: str
    at: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise SkillExpressionError(f"skill expression {source!r}: unexpected character at {pos + 1}")
        kind = match.lastgroup
        assert kind is not None
        text, start = match.group(kind), match.start(kind)
        if kind == "name" and text in _KEYWORDS:
            kind = "keyword"
        tokens.append(_Token(kind, text, start))
        pos = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


@dataclass(frozen=True)
class SkillExpression:
    """A parsed expression: ``matches(skills, relief)`` and the skills it names."""

    source: str
    _predicate: Predicate
    skills: frozenset[str]  # every concrete skill name the expression refers to

    def matches(self, skills: Skills, relief: int = 0) -> bool:
        """Whether an agent with ``skills`` qualifies, with thresholds lowered by ``relief``."""
        return self._predicate(skills, relief)

    def score(self, skills: Skills) -> int:
        """How well ``skills`` fit: the sum of the agent's levels in the skills named."""
        return sum(skills.get(name, 0) for name in self.skills)

    def __str__(self) -> str:
        return self.source


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.pos = 0
        self.depth = 0
        self.skills: set[str] = set()

    def fail(self, message: str) -> SkillExpressionError:
        token = self.tokens[self.pos]
        where = "at the end" if token.kind == "end" else f"at {token.at + 1} ({token.text!r})"
        return SkillExpressionError(f"skill expression {self.source!r}: {message} {where}")

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.tokens[self.pos]
        if token.kind == kind and (text is None or token.text == text):
            self.pos += 1
            return token
        return None

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek().kind != "end":
            raise self.fail("expected 'and', 'or' or the end")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.take("keyword", "or"):
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda s, r: any(p(s, r) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.take("keyword", "and"):
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        return lambda s, r: all(p(s, r) for p in parts)

    def nested(self, parse: Callable[[], Predicate]) -> Predicate:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    def negation(self) -> Predicate:
        if self.take("keyword", "not"):
            inner = self.nested(self.negation)
            return lambda s, r: not inner(s, r)
        return self.comparison()

    def comparison(self) -> Predicate:
        if self.take("op", "("):
            inner = self.nested(self.disjunction)
            if not self.take("op", ")"):
                raise self.fail("expected ')'")
            return inner
        if self.take("keyword", "true"):
            return lambda s, r: True
        if self.take("keyword", "false"):
            return lambda s, r: False
        token = self.take("name")
        if token is None:
            raise self.fail("expected a skill name, '(' or 'not'")
        name = token.text
        if self.take("keyword", "in"):
            return self.membership(name, negate=False)
        if self.peek().kind == "keyword" and self.peek().text == "not" and self.tokens[self.pos + 1].text == "in":
            self.pos += 2
            return self.membership(name, negate=True)
        op = self.peek()
        if op.kind == "op" and op.text in _COMPARE:
            self.pos += 1
            return self.compare(name, op.text)
        self.skills.add(name)
        return lambda s, r: name in s

    def compare(self, name: str, op: str) -> Predicate:
        value = self.peek()
        if value.kind == "string":
            if op not in ("==", "!="):
                raise self.fail(f"'{op}' compares levels and needs a number")
            self.pos += 1
            skill = f"{name}.{value.text[1:-1]}"
            self.skills.add(skill)
            if op == "==":
                return lambda s, r: skill in s
            return lambda s, r: skill not in s
        if value.kind != "number":
            raise self.fail("expected a number or a quoted value")
        self.pos += 1
        threshold = int(value.text)
        compare = _COMPARE[op]
        self.skills.add(name)
        if op in (">=", ">"):
            floor = 1 if op == ">=" else 0
            return lambda s, r: compare(s.get(name, 0), max(threshold - r, floor))
        return lambda s, r: compare(s.get(name, 0), threshold)

    def membership(self, name: str, *, negate: bool) -> Predicate:
        if not self.take("op", "["):
            raise self.fail("expected '[' after 'in'")
        values: list[str] = []
        while not self.take("op", "]"):
            if values and not self.take("op", ","):
                raise self.fail("expected ',' or ']'")
            token = self.take("string")
            if token is None:
                raise self.fail("expected a quoted value")
            values.append(f"{name}.{token.text[1:-1]}")
        if not values:
            raise self.fail("an 'in' list needs at least one value before")
        self.skills.update(values)
        wanted = tuple(values)
        if negate:
            return lambda s, r: not any(v in s for v in wanted)
        return lambda s, r: any(v in s for v in wanted)


def parse_skills(source: str) -> SkillExpression:
    """Parse ``source`` or raise ``SkillExpressionError`` naming the position."""
    if not isinstance(source, str) or not source.strip():
        raise SkillExpressionError("a skill expression must be a non-empty string")
    if len(source) > MAX_LENGTH:
        raise SkillExpressionError(f"a skill expression may be at most {MAX_LENGTH} characters long")
    parser = _Parser(source)
    predicate = parser.parse()
    return SkillExpression(source.strip(), predicate, frozenset(parser.skills))
