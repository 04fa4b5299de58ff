"""Calls to the Telegram Bot API (``<api_url>/bot<token>/<method>``), errors translated once.

The bot token is part of every URL: URLs are never logged, and errors name the
method, never the URL.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.transport import transport_error
from hub.net import DestinationPolicy

RESPONSE_LIMIT = 1 << 20


class BotApi:
    """One bot's API; ``call()`` returns the ``result`` of an ``{"ok": true}`` answer."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str, policy: DestinationPolicy) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._policy = policy

    def file_url(self, file_path: str) -> str:
        """Where a file from ``getFile`` is downloaded."""
        return f"{self._base}/file/bot{self._token}/{file_path.lstrip('/')}"

    async def call(
        self, method: str, *, json: dict[str, Any] | None = None, form: aiohttp.FormData | None = None
    ) -> Any:
        url = f"{self._base}/bot{self._token}/{method}"
        self._policy.check_url(url)
        try:
            async with self._http.post(url, json=json, data=form, allow_redirects=False) as response:
                body = await response.content.read(RESPONSE_LIMIT)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, f"Telegram {method}") from exc
        return _result(method, status, body)


class _Answer(msgspec.Struct):
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    parameters: dict[str, Any] = {}


def _result(method: str, status: int, body: bytes) -> Any:
    try:
        answer = msgspec.json.decode(body, type=_Answer)
    except msgspec.DecodeError:
        if status >= 500 or status == 429:
            raise TransientChannelError(f"Telegram {method} answered HTTP {status}") from None
        raise PermanentChannelError(f"Telegram {method} answered HTTP {status} without a Bot API answer") from None
    if answer.ok:
        return answer.result
    code = answer.error_code or status
    detail = f"Telegram {method} answered {code}: {answer.description or 'no description'}"
    if code == 429:
        wait = answer.parameters.get("retry_after")
        retry_after = float(wait) if isinstance(wait, int | float) else None
        raise TransientChannelError(detail, retry_after=retry_after)
    if code >= 500:
        raise TransientChannelError(detail)
    raise PermanentChannelError(detail)
