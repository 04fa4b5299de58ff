"""Fixtures for the customer record: a hub without HTTP server whose API channel replies to a local receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.inbox.callback_receiver import CallbackReceiver, running_receiver
from tests.inbox.outbound_env import Env, outbound_env


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def hub_env(database_url: str, tmp_path: Path, receiver: CallbackReceiver) -> AsyncIterator[Env]:
    async with outbound_env(database_url, tmp_path / "data", receiver) as env:
        yield env
