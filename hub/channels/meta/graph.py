"""Calls to Meta's Graph API (``<graph_url>/<version>/<path>``), errors translated once.

https://developers.facebook.com/docs/graph-api/guides/error-handling — an error is
``{"error": {"code", "error_subcode", "message", "is_transient", ...}}``. Throttling
codes and transient errors may pass with a retry; the closed reply window and
everything else is permanent.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.transport import retry_after, transport_error
from hub.net import DestinationPolicy

RESPONSE_LIMIT = 1 << 20
# Application, page, account and pair rate limits, and WhatsApp's spam throttle.
THROTTLED = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
OUTSIDE_WINDOW = frozenset({131047})  # WhatsApp: re-engagement message (24 hours passed)
OUTSIDE_WINDOW_SUBCODES = frozenset({2018278})  # Messenger: sent outside the allowed window


class GraphError(msgspec.Struct):
    message: str = ""
    code: int = 0
    error_subcode: int | None = None
    is_transient: bool = False


class _Failure(msgspec.Struct):
    error: GraphError


class GraphApi:
    """One access token's view of the Graph API."""

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, version: str, token: str, policy: DestinationPolicy
    ) -> None:
        self._http = http
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._policy = policy
        self.auth = {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, *, json: dict[str, Any] | None = None, form: aiohttp.FormData | None = None) -> Any:
        return await self._call("POST", path, json=json, form=form)

    async def get(self, path: str) -> Any:
        return await self._call("GET", path)

    async def _call(
        self, method: str, path: str, *, json: dict[str, Any] | None = None, form: aiohttp.FormData | None = None
    ) -> Any:
        url = f"{self._base}/{path.lstrip('/')}"
        self._policy.check_url(url)
        try:
            async with self._http.request(
                method, url, json=json, data=form, headers=self.auth, allow_redirects=False
            ) as response:
                body = await response.content.read(RESPONSE_LIMIT)
                status, wait = response.status, retry_after(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "Graph API") from exc
        if 200 <= status < 300:
            try:
                return msgspec.json.decode(body)
            except msgspec.DecodeError as exc:
                raise TransientChannelError(f"Graph API answered HTTP {status} with a body that is not JSON") from exc
        raise _translate(status, body, wait)


def _translate(status: int, body: bytes, wait: float | None) -> TransientChannelError | PermanentChannelError:
    try:
        error = msgspec.json.decode(body, type=_Failure).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        detail = f"Graph API answered HTTP {status}"
        if status == 429 or status >= 500:
            return TransientChannelError(detail, retry_after=wait)
        return PermanentChannelError(detail)
    detail = f"Meta answered HTTP {status}: ({error.code}) {error.message[:300]}"
    if error.code in OUTSIDE_WINDOW or error.error_subcode in OUTSIDE_WINDOW_SUBCODES:
        return PermanentChannelError(f"outside the 24-hour window, Meta refused it: send a template or tag ({detail})")
    if status == 429 or status >= 500 or error.is_transient or error.code in THROTTLED:
        return TransientChannelError(detail, retry_after=wait)
    return PermanentChannelError(detail)
