"""A web chat is real-time work of the medium ``chat``: routing offers it and counts it as a chat."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from tests.channels.webchat.conftest import chat_settings
from tests.channels.webchat.visitor import Visitor, start_session
from tests.factories import create_user, services_of
from tests.routing.conftest import eventually, presence

Client = TestClient[Any, Any]


@pytest.fixture
async def routed(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    settings = dataclasses.replace(
        chat_settings(database_url, tmp_path / "data"), routing={"lease": 1, "stats_interval": 0.2}
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def test_a_visitors_chat_is_offered_and_counts_against_the_chat_capacity(routed: Client) -> None:
    agent = await create_user(services_of(routed), role="agent", queues=["support"])
    await presence(routed, agent.headers, "available")
    session = await start_session(routed)
    visitor = await Visitor.connect(routed, session["token"])
    ack = await visitor.say("Hallo, ist jemand da?")

    async def offers() -> list[dict[str, Any]]:
        resp = await routed.get("/api/v1/agents/me/offers", headers=agent.headers)
        return list((await resp.json())["items"])

    (offer,) = await eventually(offers, what="the chat offer")
    assert offer["conversation_id"] == ack["conversation_id"]
    accepted = await routed.post(f"/api/v1/offers/{offer['id']}/accept", headers=agent.headers)
    assert accepted.status == 200, await accepted.text()

    me = await (await routed.get("/api/v1/agents/me", headers=agent.headers)).json()
    assert me["load"].get("chat") == 1
    assert not me["load"].get("messaging")
    await visitor.close()
