"""A local server that speaks Twilio's documented REST API, and Twilio's webhook signature.

REST (https://www.twilio.com/docs/messaging/api/message-resource,
https://www.twilio.com/docs/voice/api/call-resource): every request needs HTTP Basic
auth with the account SID and auth token; bodies are form-encoded; answers are JSON
resources like Twilio's, errors ``{"code", "message", "more_info", "status"}``.

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` creates a message (``To``;
  ``From`` or ``MessagingServiceSid``; ``Body``, ``MediaUrl`` or ``ContentSid``).
- ``GET  .../Messages/{MessageSid}.json`` fetches one.
- ``GET  .../Messages/{MessageSid}/Media/{MediaSid}`` redirects (307) to a short-lived
  CDN URL, ``/cdn/...``, as Twilio does with media HTTP auth on.
- ``POST .../Calls/{CallSid}.json`` updates a live call (``Twiml``, ``Url``, ``Status``);
  ``GET`` fetches it (``status``, ``end_time``)
  for calls a test registered with ``add_call``. The voice channel's tests may add
  more Calls and Queues routes through ``route()``.

``sign()`` computes ``X-Twilio-Signature`` exactly as Twilio does, independently of
the library: HMAC-SHA1 with the auth token over the URL followed by every parameter
name and value, names sorted (a repeated name: each distinct value once, sorted), in
base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from tests.channels.provider_stub import Canned, ProviderStub, Recorded

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123456789ab"
API = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
MESSAGES = f"{API}/Messages.json"
BODY_LIMIT = 1600
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def sign(url: str, params: Params, auth_token: str = AUTH_TOKEN) -> str:
    """``X-Twilio-Signature`` for a request Twilio makes to ``url`` with these POST parameters."""
    values: dict[str, set[str]] = {}
    for name, value in _pairs(params):
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(url: str, params: Params, auth_token: str = AUTH_TOKEN) -> tuple[bytes, dict[str, str]]:
    """The form body and headers of a webhook Twilio sends to ``url``."""
    pairs = _pairs(params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(url, pairs, auth_token),
        "I-Twilio-Idempotency-Token": hashlib.sha1(urlencode(pairs).encode()).hexdigest(),
        "User-Agent": "TwilioProxy/1.1",
    }
    return urlencode(pairs).encode(), headers


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Canned:
    """A Twilio error answer (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions)."""
    return Canned(status, error_body(status, code, message), headers or {})


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def segments(body: str) -> int:
    """How many SMS segments Twilio bills ``body`` as (GSM-7: 160/153, else UCS-2: 70/67)."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


def _date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


class TwilioApi(ProviderStub):
    """Twilio's REST API for one account; ``messages`` holds what was created, by SID."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: dict[str, dict[str, Any]] = {}
        self.calls_state: dict[str, dict[str, Any]] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self._serial = itertools.count(1)
        api = "/2010-04-01/Accounts/{AccountSid}"
        self.route("POST", f"{api}/Messages.json", self._authenticated(self._create_message))
        self.route("GET", f"{api}/Messages/{{MessageSid}}.json", self._authenticated(self._fetch_message))
        self.route("GET", f"{api}/Messages/{{MessageSid}}/Media/{{MediaSid}}", self._authenticated(self._media))
        self.route("GET", "/cdn/{MediaSid}", self._cdn)
        self.route("POST", f"{api}/Calls/{{CallSid}}.json", self._authenticated(self._update_call))
        self.route("GET", f"{api}/Calls/{{CallSid}}.json", self._authenticated(self._fetch_call))

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def sid(self, prefix: str) -> str:
        return prefix + hashlib.sha256(f"{prefix}{next(self._serial)}".encode()).hexdigest()[:32]

    def add_media(self, message_sid: str, content: bytes, content_type: str) -> str:
        """Media of an inbound MMS; returns its ``MediaUrl`` (on this server)."""
        media_sid = self.sid("ME")
        self.media[media_sid] = (content_type, content)
        return f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"

    def add_call(self, call_sid: str, **fields: Any) -> None:
        """A live call the hub may update (voice tests)."""
        self.calls_state[call_sid] = {"sid": call_sid, "status": "in-progress", **fields}

    def _authenticated(self, handler: Any) -> Any:
        async def check(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
                return web.json_response(error_body(401, 20003, "Authenticate"), status=401)
            if recorded.params.get("AccountSid") != self.account_sid:
                return web.json_response(
                    error_body(404, 20404, f"The requested resource {request.path} was not found"), status=404
                )
            return await handler(request, recorded)

        return check

    async def _create_message(self, request: web.Request, recorded: Recorded) -> web.Response:
        form = parse_qsl(recorded.body.decode(), keep_blank_values=True)
        single = dict(form)
        media = [v for k, v in form if k == "MediaUrl"]
        to, sender = single.get("To", ""), single.get("From") or single.get("MessagingServiceSid")
        body = single.get("Body", "")
        problem = None
        if not to:
            problem = (21604, "A 'To' phone number is required.")
        elif not sender:
            problem = (21603, "A 'From' phone number is required.")
        elif not (body or media or single.get("ContentSid")):
            problem = (21602, "Message body is required.")
        elif len(body) > BODY_LIMIT:
            problem = (21617, "The concatenated message body exceeds the 1600 character limit.")
        elif len(media) > 10:
            problem = (21623, "Number of media files exceeds allowed limit.")
        if problem is not None:
            return web.json_response(error_body(400, *problem), status=400)
        sid = self.sid("MM" if media else "SM")
        now = datetime.now(UTC)
        resource = {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
            "date_created": _date(now), "date_sent": None, "date_updated": _date(now),
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": single.get("From"), "messaging_service_sid": single.get("MessagingServiceSid"),
            "num_media": str(len(media)), "num_segments": str(segments(body) if body else 1),
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to, "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages[sid] = {**resource, "_form": form}
        return web.json_response(resource, status=201)

    async def _fetch_message(self, request: web.Request, recorded: Recorded) -> web.Response:
        found = self.messages.get(recorded.params["MessageSid"])
        if found is None:
            return web.json_response(error_body(404, 20404, "The requested resource was not found"), status=404)
        return web.json_response({k: v for k, v in found.items() if not k.startswith("_")})

    async def _media(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        if recorded.params["MediaSid"] not in self.media:
            return web.json_response(error_body(404, 20404, "The requested resource was not found"), status=404)
        raise web.HTTPTemporaryRedirect(f"{self.url}/cdn/{recorded.params['MediaSid']}")

    async def _cdn(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        found = self.media.get(recorded.params["MediaSid"])
        if found is None:
            return web.Response(status=404)
        content_type, content = found
        return web.Response(body=content, headers={"Content-Type": content_type})

    async def _fetch_call(self, request: web.Request, recorded: Recorded) -> web.Response:
        call = self.calls_state.get(recorded.params["CallSid"])
        if call is None:
            return web.json_response(error_body(404, 20404, "The requested resource was not found"), status=404)
        return web.json_response({
            "account_sid": self.account_sid, "api_version": "2010-04-01", "sid": call["sid"],
            "status": call["status"], "end_time": call.get("end_time"), "start_time": call.get("start_time"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call['sid']}.json",
        })

    async def _update_call(self, request: web.Request, recorded: Recorded) -> web.Response:
        call = self.calls_state.get(recorded.params["CallSid"])
        if call is None:
            return web.json_response(error_body(404, 20404, "The requested resource was not found"), status=404)
        form = dict(parse_qsl(recorded.body.decode(), keep_blank_values=True))
        if call["status"] in ("completed", "canceled"):
            return web.json_response(error_body(400, 21220, "Call is not in-progress. Cannot redirect."), status=400)
        if form.get("Status") in ("completed", "canceled"):
            call["status"] = form["Status"]
        call.update({k: v for k, v in form.items() if k in ("Twiml", "Url", "Method")})
        now = datetime.now(UTC)
        return web.json_response({
            "account_sid": self.account_sid, "api_version": "2010-04-01", "sid": call["sid"],
            "status": call["status"], "date_updated": _date(now),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call['sid']}.json",
            **{k: v for k, v in call.items() if k not in ("sid", "status", "Twiml", "Url", "Method")},
        })
