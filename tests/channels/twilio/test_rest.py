"""The account settings and the REST client through the library, against the local Twilio API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.twilio.account import (
    DEFAULT_API_BASE_URL,
    TwilioAccount,
    account_from_config,
    media_url_allowed,
)
from hub.channels.twilio.rest import TwilioApiError, TwilioRest
from hub.config import ChannelConfig, load_settings
from hub.errors import ConfigError
from hub.net import DestinationPolicy, create_http_session
from tests.channels.provider_stub import running
from tests.channels.twilio.twilio_api import ACCOUNT_SID, AUTH_TOKEN, MESSAGES, TwilioApi, error

LOOPBACK = DestinationPolicy(("127.0.0.0/8",))


@pytest.fixture
async def api() -> AsyncIterator[TwilioApi]:
    async with running(TwilioApi()) as stub:
        yield stub


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_http_session(LOOPBACK)
    yield session
    await session.close()


def rest_for(http: aiohttp.ClientSession, api: TwilioApi, token: str = AUTH_TOKEN) -> TwilioRest:
    return TwilioRest(http, TwilioAccount(ACCOUNT_SID, token, api.url, 5.0), LOOPBACK)


def config(**options: object) -> ChannelConfig:
    return ChannelConfig(type="twilio", name="sms", queue=None, options=options)


def test_the_account_is_read_from_the_channel_options() -> None:
    account = account_from_config(config(account_sid=ACCOUNT_SID, auth_token="t0k"), DestinationPolicy())
    assert account == TwilioAccount(ACCOUNT_SID, "t0k", DEFAULT_API_BASE_URL, 15.0)
    assert "t0k" not in repr(account)
    assert account.api_host == "api.twilio.com"


def test_the_auth_token_comes_from_the_named_environment_variable(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "hub.toml"
    path.write_text(
        f'[[channels]]\ntype = "twilio"\nname = "sms"\naccount_sid = "{ACCOUNT_SID}"\nauth_token_env = "SMS_TOKEN"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, env={"HUB_DATA_DIR": str(tmp_path), "SMS_TOKEN": "from-env"})
    assert account_from_config(settings.channels[0], DestinationPolicy()).auth_token == "from-env"
    with pytest.raises(ConfigError, match="SMS_TOKEN"):
        load_settings(path, env={"HUB_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth_token": "x"}, "account_sid"),
        ({"account_sid": "AC123", "auth_token": "x"}, "account_sid"),
        ({"account_sid": ACCOUNT_SID}, "auth token is required"),
        ({"account_sid": ACCOUNT_SID, "auth_token": ""}, "auth token is required"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "x", "api_base_url": "ftp://x"}, "api_base_url"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "x", "api_base_url": "http://169.254.169.254"}, "api_base_url"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "x", "api_timeout_seconds": 0}, "api_timeout_seconds"),
    ],
)
def test_a_wrong_account_stops_the_channel(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        account_from_config(config(**options), DestinationPolicy())


async def test_a_message_is_created_through_the_library_at_the_configured_base(
    api: TwilioApi, http: aiohttp.ClientSession
) -> None:
    rest = rest_for(http, api)
    created = await rest.run("send", rest.api.messages.create_async(
        to="+4915112345678", from_="+14155550100", body="Hallo ä", status_callback="https://hub.example.com/s",
        media_url=["https://hub.example.com/a.png", "https://hub.example.com/b.png"],
    ))
    assert created.sid.startswith("MM") and created.status == "queued"
    (call,) = api.calls(MESSAGES)
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.form["Body"] == "Hallo ä" and call.form["StatusCallback"] == "https://hub.example.com/s"
    assert call.body.count(b"MediaUrl=") == 2


async def test_twilio_errors_become_typed_channel_errors(api: TwilioApi, http: aiohttp.ClientSession) -> None:
    rest = rest_for(http, api)
    api.fail_next(MESSAGES, error(429, 20429, "Too Many Requests", {"Retry-After": "7"}), error(503, 20503, "Service unavailable"))
    with pytest.raises(TransientChannelError) as throttled:
        await rest.run("send", rest.api.messages.create_async(to="+4915112345678", from_="+14155550100", body="x"))
    assert throttled.value.retry_after == 7.0
    assert throttled.value.detail == "Twilio send answered HTTP 429: (20429) Too Many Requests"
    with pytest.raises(TransientChannelError) as down:
        await rest.run("send", rest.api.messages.create_async(to="+4915112345678", from_="+14155550100", body="x"))
    assert down.value.retry_after is None
    with pytest.raises(TwilioApiError) as refused:
        await rest.run("send", rest.api.messages.create_async(to="+4915112345678", from_="+14155550100", body=""))
    assert (refused.value.code, refused.value.http_status) == (21602, 400)
    assert refused.value.detail == "Twilio send answered HTTP 400: (21602) Message body is required."
    assert isinstance(refused.value, PermanentChannelError)


async def test_a_wrong_token_is_permanent(api: TwilioApi, http: aiohttp.ClientSession) -> None:
    rest = rest_for(http, api, token="wrong")
    with pytest.raises(TwilioApiError) as refused:
        await rest.run("send", rest.api.messages.create_async(to="+4915112345678", from_="+14155550100", body="x"))
    assert refused.value.code == 20003


async def test_an_unreachable_or_forbidden_api_is_transient_or_permanent(http: aiohttp.ClientSession) -> None:
    down = TwilioRest(http, TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:9", 5.0), LOOPBACK)
    with pytest.raises(TransientChannelError):
        await down.run("send", down.api.messages.create_async(to="+4915112345678", from_="+14155550100", body="x"))
    guarded = TwilioRest(http, TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:9", 5.0), DestinationPolicy())
    with pytest.raises(PermanentChannelError, match="outbound address policy"):
        await guarded.run("send", guarded.api.messages.create_async(to="+4915112345678", from_="+14155550100", body="x"))


async def test_a_live_call_is_updated_and_an_ended_one_refused(api: TwilioApi, http: aiohttp.ClientSession) -> None:
    rest = rest_for(http, api)
    api.add_call("CA" + "1" * 32)
    updated = await rest.run("call update", rest.api.calls("CA" + "1" * 32).update_async(twiml="<Response><Hangup/></Response>"))
    assert updated.status == "in-progress"
    assert api.calls_state["CA" + "1" * 32]["Twiml"] == "<Response><Hangup/></Response>"
    await rest.run("call update", rest.api.calls("CA" + "1" * 32).update_async(status="completed"))
    with pytest.raises(TwilioApiError) as ended:
        await rest.run("call update", rest.api.calls("CA" + "1" * 32).update_async(url="https://hub.example.com/x"))
    assert ended.value.code == 21220


async def test_the_library_urls_are_rewritten_to_the_base(http: aiohttp.ClientSession) -> None:
    rest = TwilioRest(http, TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:8000/twilio", 5.0), LOOPBACK)
    target = rest.http_client.target
    assert target("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1") == (
        "http://127.0.0.1:8000/twilio/2010-04-01/Accounts/AC1/Messages.json?x=1"
    )
    assert target("https://example.com/other") == "https://example.com/other"
    real = TwilioRest(http, TwilioAccount(ACCOUNT_SID, AUTH_TOKEN), LOOPBACK)
    assert real.http_client.target("https://api.twilio.com/2010-04-01/x") == "https://api.twilio.com/2010-04-01/x"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", True),
        ("https://mms.twiliocdn.com/AC1/abc?Expires=1", True),
        ("https://media.twiliocdn.com/AC1/abc", True),
        ("https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/abc", True),
        ("https://s3-external-1.amazonaws.com/attacker-bucket/x", False),
        ("http://api.twilio.com/2010-04-01/x", False),
        ("https://api.twilio.com.evil.example/x", False),
        ("https://evil.example/media.twiliocdn.com/x", False),
        ("http://127.0.0.1:8000/2010-04-01/x", True),  # the configured base (tests)
        ("http://127.0.0.1:8001/2010-04-01/x", False),
    ],
)
def test_media_comes_only_from_twilios_hosts(url: str, allowed: bool) -> None:
    account = TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:8000")
    assert media_url_allowed(account, url) is allowed
