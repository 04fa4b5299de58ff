"""Translating a provider call's HTTP failures into the typed channel errors, once."""

from __future__ import annotations

import aiohttp

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.net import blocked_reason

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def transport_error(exc: BaseException, what: str) -> TransientChannelError | PermanentChannelError:
    """The channel error for a timeout or connection failure while calling ``what``.

    A destination refused by the outbound address policy is permanent (retrying
    cannot help); any other transport failure may pass.
    """
    if isinstance(exc, TimeoutError):
        return TransientChannelError(f"{what} timed out")
    reason = blocked_reason(exc)
    if reason is not None:
        return PermanentChannelError(f"{what} refused by the outbound address policy: {reason}")
    if isinstance(exc, aiohttp.ClientError):
        return TransientChannelError(f"{what} unreachable: {exc}")
    return TransientChannelError(f"{what} failed: {type(exc).__name__}")


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
