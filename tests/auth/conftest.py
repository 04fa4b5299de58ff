"""Services on a migrated database (both backends) for the account actions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.auth.ratelimit import LoginRateLimit, MemoryCounters
from hub.bootstrap import build_services, sync_config
from hub.bus import InProcessBus
from hub.config import Settings
from hub.services import Services


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    services = build_services(settings, bus=InProcessBus())
    await sync_config(services)
    yield services
    await services.engine.dispose()


@pytest.fixture
def limit() -> LoginRateLimit:
    return LoginRateLimit(MemoryCounters(), max_failures=5, window_seconds=900)
