"""RFC 9457 problem responses for every error, from one middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hub.api.jsonio import json_response
from hub.errors import HubError, TooManyRequests

log = logging.getLogger(__name__)

POOL_RETRY_AFTER_SECONDS = 2  # what a client waits after every database connection was busy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "status": status, "title": title, "detail": detail, **extra}
    response = json_response(body, status=status)
    response.content_type = "application/problem+json"
    return response


def error_response(exc: HubError) -> web.Response:
    """The problem response for a deliberate error (with ``Retry-After`` on 429)."""
    response = problem(exc.status, exc.title, exc.detail, **exc.extra)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        response = problem(exc.status, exc.reason, detail or exc.reason)
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except PoolTimeout:
        # Overload, not a bug: the request waited its pool timeout for a database connection.
        # Its transaction never started or was rolled back, so the client may simply retry.
        log.warning("no database connection free in time", extra={"path": request.path, "method": request.method})
        response = problem(503, "Service unavailable", "the hub is overloaded right now; try again in a moment")
        response.headers["Retry-After"] = str(POOL_RETRY_AFTER_SECONDS)
        return response
    except ConnectionResetError:
        # The client went away mid-request (e.g. while its body was read): nobody to answer,
        # and not the hub's error.
        log.debug("client closed the connection", extra={"path": request.path, "method": request.method})
        return problem(400, "Bad request", "the connection closed before the request was complete")
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return problem(500, "Internal error", "the hub hit an unexpected error; it is logged")
