"""The registry the OpenAPI document is built from: every /api/v1 route declares itself here.

Route modules decorate handlers with ``@operation(...)``; ``hub.api.openapi`` turns the
registered operations and their msgspec request/response types into OpenAPI 3.1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web

Handler = TypeVar("Handler", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])
Auth = Literal["bearer", "channel", "none"]


@dataclass(frozen=True)
class Param:
    """A path or query parameter."""

    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    request: type | None = None  # a msgspec Struct (or any msgspec-encodable type)
    response: type | None = None
    status: int = 200
    auth: Auth = "bearer"
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    request: type | None = None,
    response: type | None = None,
    status: int = 200,
    auth: Auth = "bearer",
    params: tuple[Param, ...] = (),
    errors: tuple[int, ...] = (400, 401, 403, 404, 422),
) -> Callable[[Handler], Handler]:
    """Declare a handler's contract for the OpenAPI document (registration only)."""
    op = Operation(method.upper(), path, summary, tag, request, response, status, auth, params, errors)
    OPERATIONS.append(op)

    def decorate(handler: Handler) -> Handler:
        return handler

    return decorate


def path_id(name: str = "id", description: str = "") -> Param:
    return Param(name, "path", {"type": "integer", "minimum": 1}, description, required=True)
