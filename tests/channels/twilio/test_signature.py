"""Twilio's webhook signature: the published vectors, through the library and through ``sign()``."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from hub.channels.base import InboundRequest
from hub.channels.twilio.signature import WebhookSignature, form_params
from hub.errors import BadRequest, Forbidden
from tests.channels.twilio.twilio_api import sign, signed

# twilio-python tests/unit/test_request_validator.py
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
DUPLICATES_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def request(path: str, body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(
        method="POST", path=path, query={}, headers=CIMultiDictProxy(CIMultiDict(headers)), body=body
    )


def test_sign_reproduces_twilios_published_vectors() -> None:
    assert sign(URL, PARAMS, TOKEN) == EXPECTED
    assert sign(URL, list(reversed(PARAMS.items())), TOKEN) == EXPECTED
    assert sign(URL, DUPLICATES, TOKEN) == DUPLICATES_EXPECTED


def test_the_published_request_is_accepted_against_the_public_url() -> None:
    body, headers = signed(URL, PARAMS, TOKEN)
    assert headers["X-Twilio-Signature"] == EXPECTED
    checker = WebhookSignature(TOKEN, "https://mycompany.com")
    params = checker.verify(request("/myapp.php?foo=1&bar=2", body, headers))
    assert dict(params) == PARAMS


def test_repeated_parameters_are_signed_each_value_once() -> None:
    body, headers = signed(URL, DUPLICATES, TOKEN)
    assert headers["X-Twilio-Signature"] == DUPLICATES_EXPECTED
    params = WebhookSignature(TOKEN, "https://mycompany.com/").verify(request("/myapp.php?foo=1&bar=2", body, headers))
    assert params.getall("Digits") == ["5678", "1234"]


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://mycompany.com:1234", EXPECTED),  # Twilio may sign with or without the port
        ("https://mycompany.com", "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
        ("http://mycompany.com", "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80
    ],
)
def test_the_port_variants_twilio_signs_are_accepted(public_url: str, expected: str) -> None:
    body, headers = signed(URL, PARAMS, TOKEN)
    headers["X-Twilio-Signature"] = expected
    WebhookSignature(TOKEN, public_url).verify(request("/myapp.php?foo=1&bar=2", body, headers))


@pytest.mark.parametrize(
    "change",
    ["token", "public_url", "path", "query", "param", "added_param", "missing", "empty", "json", "not_ascii"],
)
def test_anything_but_the_signed_request_is_forbidden(change: str) -> None:
    token, public, path = TOKEN, "https://mycompany.com", "/myapp.php?foo=1&bar=2"
    body, headers = signed(URL, PARAMS, TOKEN)
    if change == "token":
        token = "54321"
    elif change == "public_url":
        public = "https://hub.internal:8080"  # the address the proxy forwarded to does not count
    elif change == "path":
        path = "/other.php?foo=1&bar=2"
    elif change == "query":
        path = "/myapp.php?foo=1&bar=3"
    elif change == "param":
        body = body.replace(b"Digits=1234", b"Digits=9999")
    elif change == "added_param":
        body += b"&Body=hi"
    elif change == "missing":
        del headers["X-Twilio-Signature"]
    elif change == "empty":
        headers["X-Twilio-Signature"] = ""
    elif change == "json":
        headers["Content-Type"] = "application/json"
    elif change == "not_ascii":
        headers["X-Twilio-Signature"] = "RSOYDt4T1cUTdK1PDd93/VVr8B8\u00e4"
    with pytest.raises(Forbidden):
        WebhookSignature(token, public).verify(request(path, body, headers))


def test_an_empty_value_is_signed_too() -> None:
    params = [("Body", ""), ("From", "+14158675309")]
    body, headers = signed("https://hub.example.com/hook", params, TOKEN)
    assert body == b"Body=&From=%2B14158675309"
    got = WebhookSignature(TOKEN, "https://hub.example.com").verify(request("/hook", body, headers))
    assert got["Body"] == ""


def test_a_body_that_is_not_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        form_params(b"Body=\xff\xfe")


def test_no_token_no_checker() -> None:
    with pytest.raises(ValueError):
        WebhookSignature("", "https://hub.example.com")
