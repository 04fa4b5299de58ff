"""A Twilio messaging channel whose options are wrong does not start, and says which key is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.channels.base import AdapterContext
from hub.channels.registry import build_adapter
from hub.channels.twilio import TwilioChannel
from hub.channels.twilio.messaging import messaging_options
from hub.config import ChannelConfig
from hub.errors import ConfigError
from tests.channels.twilio.twilio_api import ACCOUNT_SID, AUTH_TOKEN
from tests.conftest import make_settings


def config(**values: Any) -> ChannelConfig:
    options = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "phone_number": "+14155550100", **values}
    return ChannelConfig(type="twilio", name="sms", queue=None, options={k: v for k, v in options.items() if v is not None})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"platform": "telegram"}, "platform"),
        ({"default_region": "XX"}, "default_region"),
        ({"phone_number": "12"}, "phone_number"),
        ({"phone_number": None}, "phone_number .* or messaging_service_sid"),
        ({"phone_number": None, "messaging_service_sid": "MG123"}, "messaging_service_sid"),
        ({"platform": "whatsapp", "phone_number": None, "messaging_service_sid": "MG" + "0" * 32}, "needs its phone_number"),
        ({"platform": "whatsapp", "templates": {"x": "not-a-sid"}}, "Content SIDs"),
        ({"templates": {"x": "HX" + "0" * 32}}, "for WhatsApp channels"),
        ({"max_segments": 0}, "max_segments"),
    ],
)
def test_a_wrong_option_stops_the_start(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        messaging_options(config(**values), make_settings("sqlite+aiosqlite://", tmp_path))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = aiohttp.ClientSession()
    yield session
    await session.close()


async def _nothing(_: object) -> None:
    return None


async def test_a_channel_without_an_auth_token_does_not_start(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    context = AdapterContext(make_settings("sqlite+aiosqlite://", tmp_path), http, _nothing, _nothing)
    with pytest.raises(ConfigError, match="auth token is required"):
        build_adapter(config(auth_token=None), context)
    adapter = build_adapter(config(), context)
    assert isinstance(adapter, TwilioChannel)
    assert adapter.consent_channel == "sms"
    assert adapter.status_callback == "http://127.0.0.1:8080/webhooks/twilio/sms/status"
