"""JSON in and out of handlers: typed decoding at the boundary, fast encoding."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from aiohttp import web

from hub.errors import BadRequest, ValidationFailed

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encoder.encode(data), status=status, content_type="application/json", headers=headers
    )


def decode(body: bytes, into: type[T]) -> T:
    """Parse ``body`` into ``into`` or raise 400 (not JSON) / 422 (wrong shape)."""
    try:
        return msgspec.json.decode(body, type=into)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


async def read_json(request: web.Request, into: type[T]) -> T:
    """Read the request body (bounded by the app's client_max_size) and decode it."""
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json")
    return decode(await request.read(), into)
