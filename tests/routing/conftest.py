"""A running hub with routing switched on fast: short lease, quick statistics, a real-time channel."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hub.api.app import create_app
from hub.api.keys import INBOX
from hub.channels import registry
from hub.channels.base import Capabilities, ChannelAdapter
from hub.config import ChannelConfig, QueueConfig
from hub.db.models import Conversation
from hub.messages import Identity, IdentityKind, InboundMessage, Sender
from tests.conftest import API_TOKEN, make_settings
from tests.factories import services_of

Client = TestClient[Any, Any]


class LiveChatChannel(ChannelAdapter):
    """A real-time channel, as a web chat or a call would be: its conversations are offered."""

    type: ClassVar[str] = "test-live-chat"
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=10_000, realtime=True, media="chat")


_serial = itertools.count(1)


async def live_chat(client: Client, text: str = "Hallo?") -> int:
    """A customer starts a chat (straight into the inbox, as the chat adapter would); its conversation id."""
    n = next(_serial)
    message = InboundMessage(
        channel="live-chat", provider_message_id=f"chat-{n}-{time.time_ns()}",
        sender=Sender((Identity(IdentityKind.EMAIL, f"chatter{n}-{time.time_ns()}@example.test"),)), text=text,
    )
    result = await client.app[INBOX].ingest(message)
    return result.conversation_id


@pytest.fixture
def routing_queues() -> tuple[QueueConfig, ...]:
    return (
        QueueConfig("support", {"reroute_after": 0.5, "offer_timeout": 3.0, "away_after_missed_offers": 2}),
        QueueConfig("billing"),
        QueueConfig("complaints", {"priority": 5}),
    )


@pytest.fixture
def routing_tables() -> dict[str, Any]:
    return {
        "lease": 1,
        "stats_interval": 0.2,
        "rules": [{"name": "complaint", "keywords": ["Beschwerde", "complaint"], "queue": "complaints", "priority": 3}],
        "sla": [{"name": "fast", "queues": ["billing"], "first_response": 1, "warning_at": 0.5}],
    }


@pytest.fixture
async def hub(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    routing_queues: tuple[QueueConfig, ...], routing_tables: Mapping[str, Any],
) -> AsyncIterator[Client]:
    monkeypatch.setitem(registry.ADAPTERS, LiveChatChannel.type, LiveChatChannel)
    settings = make_settings(
        database_url, tmp_path / "data",
        queues=routing_queues,
        channels=(
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN}),
            ChannelConfig(type="api", name="shop", queue="billing", options={"token": API_TOKEN + "-shop"}),
            ChannelConfig(type=LiveChatChannel.type, name="live-chat", queue="support"),
        ),
        routing=routing_tables,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def assignee(client: Client, conversation_id: int) -> int | None:
    async with services_of(client).sessions() as session:
        return await session.scalar(select(Conversation.assignee_id).where(Conversation.id == conversation_id))


async def presence(client: Client, headers: dict[str, str], status: str) -> None:
    resp = await client.put("/api/v1/agents/me/presence", json={"status": status}, headers=headers)
    assert resp.status == 200, await resp.text()
