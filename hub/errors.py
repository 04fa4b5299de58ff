"""Error hierarchy: every error the hub raises on purpose carries its HTTP meaning."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every deliberate hub error; rendered as RFC 9457 problem JSON by the API."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class BadRequest(HubError):
    status = 400
    title = "Bad request"


class ValidationFailed(HubError):
    status = 422
    title = "Validation failed"


class Unauthorized(HubError):
    status = 401
    title = "Unauthorized"


class Forbidden(HubError):
    status = 403
    title = "Forbidden"


class NotFound(HubError):
    status = 404
    title = "Not found"


class Conflict(HubError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(HubError):
    status = 413
    title = "Payload too large"


class TooManyRequests(HubError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(HubError):
    status = 503
    title = "Service unavailable"


class ConfigError(HubError):
    """The configuration is invalid; raised at start-up, never at request time."""

    status = 500
    title = "Configuration error"
