"""Render a canned response: Jinja2's immutable sandbox, strict variables, bounded output.

Templates are written by admins, the values come from customers (a contact's name),
so both sides are distrusted: the sandbox refuses attribute tricks
(``{{ ''.__class__ }}``), a missing variable is an error instead of an empty string,
``range`` and ``*`` are bounded and loops may not nest (nor macros, includes or
recursive loops exist), so a template can neither build a huge answer nor spin,
and HTML templates escape every value and are sanitized after rendering.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hub.errors import ValidationFailed
from hub.inbox.html import sanitize_html

Format = Literal["text", "html"]

MAX_OUTPUT = 20_000  # characters; the longest reply most channels carry is far shorter
MAX_RANGE = 1_000
MAX_SOURCE = 10_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with ``*`` and ``**`` bounded (the Jinja2 docs' own example)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if not (isinstance(right, int | float) and abs(right) <= 64 and isinstance(left, int | float)):
                raise SecurityError("'**' is limited to small exponents in canned responses")
            if abs(left) > 10**6:
                raise SecurityError("'**' is limited to small numbers in canned responses")
            return left**right
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * max(times, 0) > MAX_OUTPUT:
                    raise SecurityError("the result of '*' would be too long")
            return operator.mul(left, right)
        return super().call_binop(context, operator_name, left, right)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in canned responses")
    return numbers


def _environment(autoescape: bool) -> _BoundedSandbox:
    env = _BoundedSandbox(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True)
    env.globals = {"range": _bounded_range}  # no lipsum, cycler, joiner, namespace, dict
    return env


_ENVIRONMENTS: dict[Format, _BoundedSandbox] = {"text": _environment(False), "html": _environment(True)}


_FORBIDDEN = (nodes.Macro, nodes.CallBlock, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.Block)


def _compile(source: str, fmt: Format) -> Template:
    """The template, after refusing what could make rendering unbounded; TemplateError/SecurityError."""
    env = _ENVIRONMENTS[fmt]
    tree = env.parse(source)
    for node in tree.find_all(_FORBIDDEN):
        raise SecurityError(f"{type(node).__name__.lower()} is not available in canned responses")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise SecurityError("recursive loops are not available in canned responses")
        if any(True for _ in loop.find_all(nodes.For)):
            raise SecurityError("loops may not nest in canned responses")
    return env.from_string(tree)


def check_source(source: str, fmt: Format, where: str) -> None:
    """ValidationFailed unless ``source`` is a template the sandbox accepts."""
    if len(source) > MAX_SOURCE:
        raise ValidationFailed(f"{where}: at most {MAX_SOURCE} characters")
    try:
        _compile(source, fmt)
    except SecurityError as exc:
        raise ValidationFailed(f"{where}: {exc}") from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        at = f" (line {line})" if line else ""
        raise ValidationFailed(f"{where}: the template does not compile{at}: {exc.message or exc}") from None


def render(source: str, fmt: Format, variables: Mapping[str, Any]) -> str:
    """The rendered text; ValidationFailed (422) for an unknown variable, an unsafe access or too much output.

    ``variables`` must hold only plain dicts, strings and numbers: the sandbox then
    exposes nothing else.
    """
    try:
        template = _compile(source, fmt)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise ValidationFailed(f"the rendered response is longer than {MAX_OUTPUT} characters", extra={
                    "code": "canned_too_long"})
            parts.append(chunk)
    except SecurityError as exc:
        raise ValidationFailed(f"the template does something canned responses may not: {exc}",
                               extra={"code": "canned_unsafe"}) from None
    except TemplateError as exc:  # UndefinedError, TemplateSyntaxError, ...
        raise ValidationFailed(f"the template cannot be rendered: {exc.message or exc}",
                               extra={"code": "canned_undefined"}) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise ValidationFailed(f"the template cannot be rendered: {type(exc).__name__}",
                               extra={"code": "canned_error"}) from None
    text = "".join(parts)
    return sanitize_html(text) if fmt == "html" else text
