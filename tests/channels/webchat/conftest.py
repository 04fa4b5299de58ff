"""A hub with a web chat channel ``site-chat`` embedded on ``http://shop.test``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.config import ChannelConfig, Settings

# The email channel's real servers (Dovecot, aiosmtpd), for the offline follow-up by email.
from tests.channels.email.conftest import dovecot, email_hub, mailbox, other_client, smtp  # noqa: F401
from tests.conftest import API_TOKEN, make_settings

SITE = "http://shop.test"
IDENTITY_SECRET = "shop-identity-secret-0123456789"


def chat_channel(**options: Any) -> ChannelConfig:
    values: dict[str, Any] = {
        "allowed_origins": [SITE],
        "identity_secret": IDENTITY_SECRET,
        "prechat": [{"name": "name"}, {"name": "email"}, {"name": "order", "label_en": "Order", "label_de": "Bestellung"}],
        "messages_per_minute": 5,
        "sessions_per_ip_per_hour": 50,
    }
    values.update(options)
    return ChannelConfig(type="webchat", name="site-chat", queue="support", options=values)


def chat_settings(database_url: str, data_dir: Path, *channels: ChannelConfig) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        channels=(
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN}),
            *(channels or (chat_channel(),)),
        ),
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return chat_settings(database_url, tmp_path / "data")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
