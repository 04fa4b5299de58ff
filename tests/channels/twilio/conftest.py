"""A hub behind https://hub.example.com with a Twilio SMS number and a WhatsApp sender,
whose Twilio REST API is a local server; webhooks signed exactly as Twilio signs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig
from tests.channels.hub_app import running_hub
from tests.channels.provider_stub import running
from tests.channels.twilio.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioApi, signed

PUBLIC_URL = "https://hub.example.com"  # the reverse proxy's address: what Twilio calls and signs
NUMBER = "+14155550100"
WA_NUMBER = "+14155238886"
CUSTOMER = "+4915112345678"
HELP_TEXT = "Beispiel GmbH support: reply STOP to opt out. Help: +49 30 1234567"
ORDER_UPDATE = "HX" + "a" * 32
ORDER_UPDATE_DE = "HX" + "b" * 32


def twilio_channels(api_url: str, **sms_options: Any) -> tuple[ChannelConfig, ...]:
    account = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "api_base_url": api_url}
    return (
        ChannelConfig(type="twilio", name="sms", queue="support", options={
            **account, "phone_number": NUMBER, "default_region": "DE", "help_text": HELP_TEXT,
            "opt_out_text": "You are unsubscribed. Reply START to resubscribe.", **sms_options,
        }),
        ChannelConfig(type="twilio", name="wa", queue="support", options={
            **account, "platform": "whatsapp", "phone_number": WA_NUMBER,
            "templates": {"order_update": ORDER_UPDATE, "order_update@de": ORDER_UPDATE_DE},
        }),
    )


@pytest.fixture
async def api() -> AsyncIterator[TwilioApi]:
    async with running(TwilioApi()) as stub:
        yield stub


@pytest.fixture
def sms_options() -> dict[str, Any]:
    """Extra options of the ``sms`` channel (a test overrides the fixture to change them)."""
    return {}


@pytest.fixture
async def twilio_client(
    database_url: str, tmp_path: Path, api: TwilioApi, sms_options: dict[str, Any]
) -> AsyncIterator[TestClient[Any, Any]]:
    channels = twilio_channels(api.url, **sms_options)
    async with running_hub(database_url, tmp_path / "data", *channels, public_url=PUBLIC_URL) as client:
        yield client


def incoming(
    sid: str, body: str, *, sender: str = CUSTOMER, to: str = NUMBER, media: Iterable[tuple[str, str]] = (),
    **extra: str,
) -> list[tuple[str, str]]:
    """The parameters of Twilio's incoming-message webhook (SMS, MMS or, with whatsapp: addresses, WhatsApp)."""
    media = list(media)
    params = [
        ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", sid), ("NumMedia", str(len(media))),
        ("ToCity", "SAN FRANCISCO"), ("FromZip", ""), ("SmsSid", sid), ("FromState", ""),
        ("SmsStatus", "received"), ("FromCity", ""), ("Body", body), ("FromCountry", "DE"), ("To", to),
        ("ToZip", "94105"), ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", ACCOUNT_SID),
        ("From", sender), ("ApiVersion", "2010-04-01"),
    ]
    for index, (url, content_type) in enumerate(media):
        params += [(f"MediaContentType{index}", content_type), (f"MediaUrl{index}", url)]
    return params + list(extra.items())


def status(sid: str, message_status: str, *, to: str = CUSTOMER, **extra: str) -> list[tuple[str, str]]:
    """The parameters of a message status callback."""
    return [
        ("SmsSid", sid), ("SmsStatus", message_status), ("MessageStatus", message_status), ("To", to),
        ("MessageSid", sid), ("AccountSid", ACCOUNT_SID), ("From", NUMBER), ("ApiVersion", "2010-04-01"),
        *extra.items(),
    ]


async def deliver(
    client: TestClient[Any, Any], channel: str, kind: str, params: list[tuple[str, str]],
    *, token: str = AUTH_TOKEN, signed_url: str | None = None, headers: dict[str, str] | None = None,
) -> Any:
    """POST a webhook as Twilio does: form-encoded, signed over the public URL."""
    path = f"/webhooks/twilio/{channel}/{kind}"
    body, signed_headers = signed(signed_url or PUBLIC_URL + path, params, token)
    return await client.post(path, data=body, headers=headers if headers is not None else signed_headers)
