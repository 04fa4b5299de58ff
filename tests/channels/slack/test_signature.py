"""Slack's request signing: the published test vector, tampering, replays, missing headers."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from hub.channels.base import AdapterContext, InboundRequest
from hub.channels.slack import SlackChannel
from hub.config import ChannelConfig
from hub.errors import Unauthorized
from tests.conftest import make_settings

# https://api.slack.com/authentication/verifying-requests-from-slack ("Validating a request")
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TIMESTAMP = 1531420618
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def adapter(tmp_path: object) -> SlackChannel:
    settings = make_settings("sqlite+aiosqlite://", tmp_path)  # type: ignore[arg-type]
    config = ChannelConfig(
        type="slack", name="slack-vector", queue=None,
        options={"signing_secret": VECTOR_SECRET, "bot_token": "xoxb-x", "team_id": "T1DC2JH3J"},
    )

    async def unused(_: object) -> None:
        raise AssertionError

    context = AdapterContext(settings=settings, http=None, ingest=unused, report_status=unused)  # type: ignore[arg-type]
    channel = SlackChannel(config, context)
    channel.clock = lambda: VECTOR_TIMESTAMP + 30.0
    return channel


def request(body: bytes = VECTOR_BODY, **headers: str) -> InboundRequest:
    sent = {"X-Slack-Request-Timestamp": str(VECTOR_TIMESTAMP), "X-Slack-Signature": VECTOR_SIGNATURE, **headers}
    return InboundRequest(
        method="POST", path="/webhooks/slack/events", query={},
        headers=CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in sent.items()})), body=body,
    )


def test_slacks_published_test_vector_verifies(tmp_path: object) -> None:
    adapter(tmp_path).verify(request())


def test_a_changed_byte_in_the_body_fails(tmp_path: object) -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        adapter(tmp_path).verify(request(VECTOR_BODY.replace(b"roadrunner", b"roadrunnex")))


def test_another_secret_fails(tmp_path: object) -> None:
    channel = adapter(tmp_path)
    wrong = "v0=" + "0" * 64
    with pytest.raises(Unauthorized, match="does not match"):
        channel.verify(request(**{"X-Slack-Signature": wrong}))


def test_a_request_older_than_five_minutes_is_a_replay(tmp_path: object) -> None:
    channel = adapter(tmp_path)
    channel.clock = lambda: VECTOR_TIMESTAMP + 301.0
    with pytest.raises(Unauthorized, match="5 minutes"):
        channel.verify(request())
    channel.clock = lambda: VECTOR_TIMESTAMP - 301.0
    with pytest.raises(Unauthorized, match="5 minutes"):
        channel.verify(request())


def test_missing_or_garbled_headers_fail(tmp_path: object) -> None:
    channel = adapter(tmp_path)
    bare = InboundRequest(
        method="POST", path="/", query={}, headers=CIMultiDictProxy(CIMultiDict()), body=VECTOR_BODY
    )
    with pytest.raises(Unauthorized, match="missing"):
        channel.verify(bare)
    with pytest.raises(Unauthorized, match="Unix time"):
        channel.verify(request(**{"X-Slack-Request-Timestamp": "yesterday"}))
    with pytest.raises(Unauthorized):
        channel.verify(request(b"\xff\xfe not utf-8"))
