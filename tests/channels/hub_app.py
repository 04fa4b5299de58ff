"""A running hub with the test API channels plus a provider's channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.config import ChannelConfig
from tests.conftest import make_settings


@asynccontextmanager
async def running_hub(
    database_url: str, data_dir: Path, *channels: ChannelConfig, **overrides: object
) -> AsyncIterator[TestClient[Any, Any]]:
    """The hub app; its outbox polls rarely, so tests that need a clock run their own dispatcher.

    ``overrides`` are further settings (``public_url`` for a hub behind a proxy).
    """
    base = make_settings(database_url, data_dir)
    settings = make_settings(
        database_url, data_dir, channels=(*base.channels, *channels), outbox_poll_seconds=3600.0, **overrides
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client
