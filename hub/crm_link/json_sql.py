"""Typed reads of one key of a JSON column, the same on SQLite and PostgreSQL, never failing.

``CAST(attributes ->> 'x' AS float)`` fails on PostgreSQL for a row where ``x`` holds
text; these constructs return NULL instead when the value has another JSON type, so
one contact's free-form attribute cannot break a segment for everyone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, literal
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

SAFE_KEY = r'^[^"\\\x00-\x1f]{1,100}$'


class _JsonValue(FunctionElement[Any]):
    inherit_cache = True
    kind: str = ""

    def __init__(self, column: ColumnElement[Any], key: str) -> None:
        super().__init__(column, literal(key))


class json_text(_JsonValue):
    """The key's value when it is a JSON string, else NULL."""

    inherit_cache = True
    type: TypeEngine[Any] = String()
    kind = "string"


class json_number(_JsonValue):
    """The key's value as a float when it is a JSON number, else NULL."""

    type = Float()
    inherit_cache = True
    kind = "number"


class json_bool(_JsonValue):
    """The key's value when it is true or false, else NULL."""

    type = Boolean()
    inherit_cache = True
    kind = "boolean"


class json_present(_JsonValue):
    """True when the object has the key."""

    type = Boolean()
    inherit_cache = True
    kind = "present"


def _args(element: _JsonValue, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, key = (compiler.process(arg, **kw) for arg in element.clauses)
    return column, key


@compiles(_JsonValue, "postgresql")
def _postgresql(element: _JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _args(element, compiler, **kw)
    value = f"({column} -> {key})"
    text = f"({column} ->> {key})"
    if element.kind == "present":
        return f"({value} IS NOT NULL)"
    cast = {"string": text, "number": f"CAST({text} AS DOUBLE PRECISION)", "boolean": f"CAST({text} AS BOOLEAN)"}
    return f"(CASE WHEN json_typeof({value}) = '{element.kind}' THEN {cast[element.kind]} END)"


@compiles(_JsonValue, "sqlite")
def _sqlite(element: _JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _args(element, compiler, **kw)
    path = f"""('$."' || {key} || '"')"""  # SAFE_KEY keeps quotes and backslashes out of the key
    kind = f"json_type({column}, {path})"
    if element.kind == "present":
        return f"({kind} IS NOT NULL)"
    if element.kind == "boolean":
        return f"(CASE WHEN {kind} IN ('true', 'false') THEN {kind} = 'true' END)"
    types = "('text')" if element.kind == "string" else "('integer', 'real')"
    return f"(CASE WHEN {kind} IN {types} THEN json_extract({column}, {path}) END)"
