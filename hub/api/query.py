"""Query-string and path parameters: parsed by raising, with the schemas the OpenAPI document shows.

Each parser has a matching ``Param`` so the document and the check never disagree.
A malformed value is a 400 problem; a parameter given twice is malformed too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.spec import Param
from hub.errors import BadRequest, NotFound

MAX_ID = 2**63 - 1  # BIGINT; larger numbers can name no row
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def limit_param() -> Param:
    """The ``limit`` query parameter of every list."""
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    return Param("limit", "query", schema, "page size")


def cursor_param() -> Param:
    """The ``cursor`` query parameter: the ``next`` value of the previous page."""
    return Param("cursor", "query", {"type": "string", "maxLength": 500}, "the `next` value of the previous page")


def id_path_param(name: str = "id", description: str = "") -> Param:
    """An integer id in the path."""
    return Param(name, "path", ID_SCHEMA, description, required=True)


def single(request: web.Request, name: str) -> str | None:
    """The one value of query parameter ``name``, or None; 400 when it is given twice."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise BadRequest(f"query parameter {name!r} given more than once")
    return values[0] if values else None


def query_int(request: web.Request, name: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """An integer query parameter within [minimum, maximum], or None when absent."""
    raw = single(request, name)
    if raw is None:
        return None
    value = _to_int(raw)
    if value is None or not minimum <= value <= maximum:
        raise BadRequest(f"query parameter {name!r} must be an integer from {minimum} to {maximum}")
    return value


def query_limit(request: web.Request) -> int:
    """The page size: ``limit`` (1..100), 25 when absent."""
    value = query_int(request, "limit", minimum=1, maximum=MAX_LIMIT)
    return DEFAULT_LIMIT if value is None else value


def query_text(request: web.Request, name: str, *, max_length: int, min_length: int = 0) -> str | None:
    """A string query parameter bounded in length, or None when absent."""
    raw = single(request, name)
    if raw is None:
        return None
    if not min_length <= len(raw) <= max_length:
        raise BadRequest(f"query parameter {name!r} must be {min_length} to {max_length} characters long")
    return raw


def query_choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    """One of ``choices``, or None when absent."""
    raw = single(request, name)
    if raw is None:
        return None
    if raw not in choices:
        raise BadRequest(f"query parameter {name!r} must be one of {', '.join(choices)}")
    return raw


def path_id(request: web.Request, name: str = "id") -> int:
    """An integer id from the path; anything that cannot name a row is 404."""
    value = _to_int(request.match_info[name])
    if value is None or not 1 <= value <= MAX_ID:
        raise NotFound(f"no such {name}")
    return value


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere; ``\\`` escapes the wildcards (use ``escape='\\\\'``)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def storable(text: str) -> bool:
    """False for text no database row can hold (NUL): such a filter matches nothing."""
    return "\x00" not in text


def _to_int(raw: str) -> int | None:
    # int() accepts " 1", "1_000" and non-ASCII digits; a URL parameter should not.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        return None
    return int(raw)
