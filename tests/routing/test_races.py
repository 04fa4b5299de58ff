"""Races the database settles: many accepts of one offer, round robin across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.config import QueueConfig
from tests.conftest import make_settings
from tests.factories import create_user, send_inbound, services_of
from tests.routing.conftest import Client, assignee, eventually, live_chat, presence


async def test_of_many_simultaneous_accepts_of_one_offer_exactly_one_wins(hub: Client) -> None:
    agent = await create_user(services_of(hub), role="agent", queues=["support"])
    await presence(hub, agent.headers, "available")
    cid = await live_chat(hub)

    async def offers() -> Any:
        resp = await hub.get("/api/v1/agents/me/offers", headers=agent.headers)
        return (await resp.json())["items"]

    (offer,) = await eventually(offers, what="the offer")
    answers = await asyncio.gather(
        *(hub.post(f"/api/v1/offers/{offer['id']}/accept", headers=agent.headers) for _ in range(8))
    )
    assert sorted(r.status for r in answers) == [200] + [409] * 7
    assert await assignee(hub, cid) == agent.id


async def _hub(database_url: str, data: Path) -> TestClient[Any, Any]:
    settings = make_settings(database_url, data, queues=(QueueConfig("support"), QueueConfig("billing")),
                             routing={"lease": 1, "stats_interval": 0.2})
    return TestClient(TestServer(create_app(settings)))


async def test_round_robin_carries_on_after_a_restart(database_url: str, tmp_path: Path) -> None:
    first = await _hub(database_url, tmp_path / "one")
    async with first:
        services = services_of(first)
        agents = [await create_user(services, role="agent", queues=["support"]) for _ in range(3)]
        for agent in agents:
            await presence(first, agent.headers, "available")
        given = []
        for _ in range(2):
            cid = (await send_inbound(first, "web-form"))["conversation_id"]
            given.append(await eventually(lambda cid=cid: assignee(first, cid), what="an assignment"))
    assert len(set(given)) == 2
    second = await _hub(database_url, tmp_path / "two")  # a new process: the engine is rebuilt from the database
    async with second:
        cid = (await send_inbound(second, "web-form"))["conversation_id"]
        third = await eventually(lambda: assignee(second, cid), what="the third assignment")
    assert third not in given  # the one who has waited longest for work, not the first in the list
