"""Twilio's webhook signature (``X-Twilio-Signature``), checked before anything is parsed.

https://www.twilio.com/docs/usage/security#validating-requests — Twilio signs the
full URL it called (scheme, host, path and query) followed by every POST parameter,
name then value, sorted by name, with HMAC-SHA1 keyed by the account's auth token,
base64-encoded. The check uses the library's ``RequestValidator``: first its
signature of the URL as configured, compared in constant time (the common case, one
HMAC); when that differs, its ``validate``, which also tries the URL with and without
the default port, as Twilio's back ends differ.

The URL is the hub's configured ``server.public_url`` plus the path (and query) of
the request: behind a reverse proxy the address Twilio called is what counts, not
the address the hub was reached at.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from hub.channels.base import InboundRequest
from hub.errors import BadRequest, Forbidden

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_TYPE = "application/x-www-form-urlencoded"


def form_params(body: bytes) -> MultiDict[str]:
    """The POST parameters of a form-encoded body, empty values kept (Twilio signs them too)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the form body is not UTF-8") from exc
    return MultiDict(parse_qsl(text, keep_blank_values=True))


class WebhookSignature:
    """Checks Twilio's signature on requests to the hub's webhook URLs."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        if not auth_token:
            raise ValueError("an auth token is required to check Twilio signatures")
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")

    def url_of(self, request: InboundRequest) -> str:
        """The URL Twilio called: the public URL plus the request's path and query."""
        return self._public_url + request.path

    def verify(self, request: InboundRequest) -> MultiDict[str]:
        """The request's parameters once its signature is right; Forbidden otherwise."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Forbidden(f"missing {SIGNATURE_HEADER}")
        params: MultiDict[str] = MultiDict()
        if request.body:
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type != FORM_TYPE:
                raise Forbidden(f"Twilio webhooks are signed as {FORM_TYPE}, not {content_type or 'no type'}")
            params = form_params(request.body)
        url = self.url_of(request)
        if hmac.compare_digest(self._validator.compute_signature(url, params).encode(), signature.encode("utf-8", "replace")):
            return params
        if not self._validator.validate(url, params, signature):
            raise Forbidden(f"{SIGNATURE_HEADER} does not match this request")
        return params
