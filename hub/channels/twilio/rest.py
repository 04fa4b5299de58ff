"""Twilio's REST API through the twilio library, on the hub's shared, SSRF-guarded session.

The library's own ``AsyncTwilioHttpClient`` opens a private ``aiohttp`` session; the
hub wants every outgoing request on its one guarded session (``hub.net``), so
``HubHttpClient`` implements the library's ``AsyncHttpClient`` on it. It also points
the library at the configured ``api_base_url``: the library builds URLs on Twilio's
hosts (``https://api.twilio.com/2010-04-01/...``), and with another base URL every
``*.twilio.com`` host is replaced by it, path kept — that is how tests talk to a local
server that speaks the documented API.

Failures are translated once, in ``TwilioRest.run``: HTTP 429 and 5xx (and transport
errors) may pass with a retry, everything else is permanent and keeps Twilio's error
code and message (https://www.twilio.com/docs/api/errors).
"""

from __future__ import annotations

import base64
import contextvars
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.transport import RETRYABLE_STATUS, retry_after, transport_error
from hub.channels.twilio.account import DEFAULT_API_BASE_URL, TwilioAccount
from hub.net import BlockedDestination, DestinationPolicy

RESPONSE_LIMIT = 1 << 20
T = TypeVar("T")
log = logging.getLogger(__name__)

# The Retry-After of the last answer in this task: the library raises its exception
# after the HTTP client returned, without the headers.
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar("twilio_retry_after", default=None)


class TwilioApiError(PermanentChannelError):
    """Twilio refused a request for good; ``code`` is Twilio's error code (21211, 63016, ...)."""

    def __init__(self, detail: str, *, code: int | None, http_status: int) -> None:
        super().__init__(detail, extra={"provider_code": code, "provider_status": http_status})
        self.code = code
        self.http_status = http_status


class HubHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The library's async HTTP client interface on the hub's shared session."""

    def __init__(self, http: aiohttp.ClientSession, account: TwilioAccount, policy: DestinationPolicy) -> None:
        super().__init__(log, True, account.timeout_seconds)
        self._http = http
        self._policy = policy
        self._base = urlsplit(account.api_base_url)
        self._rewrite = account.api_base_url.rstrip("/") != DEFAULT_API_BASE_URL

    def target(self, uri: str) -> str:
        """The URL actually called for a URL the library built."""
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
        if self._rewrite and (host == "twilio.com" or host.endswith(".twilio.com")):
            path = self._base.path.rstrip("/") + parts.path
            return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))
        return uri

    async def request(
        self,
        method: str,
        uri: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's interface names it so
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        url = self.target(uri)
        self._policy.check_url(url)
        body = urlencode(_pairs(data), doseq=True) if data else None
        seconds = timeout or self.timeout
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        async with self._http.request(
            method.upper(),
            url,
            params=urlencode(_pairs(params), doseq=True) if params else None,
            data=body,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=seconds) if seconds else aiohttp.ClientTimeout(),
            allow_redirects=False,
        ) as response:
            raw = await response.content.read(RESPONSE_LIMIT)
            _retry_after.set(retry_after(response.headers.get("Retry-After")))
            return TwilioResponse(response.status, raw.decode("utf-8", "replace"), response.headers)


def _pairs(values: Mapping[str, object] | None) -> dict[str, Any]:
    """Form values as ``urlencode`` takes them (lists repeat the key: ``MediaUrl``)."""
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value)
    return out


class TwilioRest:
    """One account's REST API: ``api`` is the library's ``Accounts/{sid}`` resource."""

    def __init__(self, http: aiohttp.ClientSession, account: TwilioAccount, policy: DestinationPolicy) -> None:
        self.account = account
        self.http_client = HubHttpClient(http, account, policy)
        self.client = Client(
            username=account.account_sid,
            password=account.auth_token,
            account_sid=account.account_sid,
            http_client=self.http_client,
            environment={},
        )
        # Accounts/{sid}: .messages, .calls(sid), .queues ... with *_async methods.
        self.api: Any = self.client.api.v2010.accounts(account.account_sid)

    async def run(self, what: str, call: Awaitable[T]) -> T:
        """Await a library call; raise ``TransientChannelError`` or ``TwilioApiError`` when it fails."""
        token = _retry_after.set(None)
        try:
            return await call
        except BlockedDestination as exc:
            raise PermanentChannelError(f"Twilio {what} refused by the outbound address policy: {exc.detail}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, f"Twilio {what}") from exc
        except TwilioException as exc:
            # TwilioRestException (and the RFC 9457 TwilioServiceException) carry the HTTP status.
            if isinstance(getattr(exc, "status", None), int):
                raise _translate(what, exc, _retry_after.get()) from None
            raise TransientChannelError(f"Twilio {what}: unreadable answer ({type(exc).__name__})") from exc
        finally:
            _retry_after.reset(token)


def _translate(what: str, exc: Any, wait: float | None) -> TransientChannelError | TwilioApiError:
    status = int(exc.status)
    code = exc.code if isinstance(exc.code, int) and exc.code != status else None
    # "Unable to create record: <Twilio's message>"; the RFC 9457 form has a detail instead.
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    message = str(text).split(": ", 1)[-1] if text else f"HTTP {status}"
    detail = f"Twilio {what} answered HTTP {status}" + (f": ({code}) {message}" if code else f": {message}")
    if status in RETRYABLE_STATUS:
        return TransientChannelError(detail, retry_after=wait)
    return TwilioApiError(detail, code=code, http_status=status)
