"""Queues with live statistics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from hub.db.models import Conversation, utcnow
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def set_conversation(client: Client, conversation_id: int, **values: Any) -> None:
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))


async def queues(client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    resp = await client.get("/api/v1/queues", headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["next"] is None
    return {q["name"]: q for q in body["items"]}


async def test_queues_count_open_unassigned_and_the_longest_wait(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    waiting_long = await send_inbound(client, "web-form")
    assigned = await send_inbound(client, "web-form")
    answered = await send_inbound(client, "web-form")
    resolved = await send_inbound(client, "web-form")
    now = utcnow()
    await set_conversation(client, waiting_long["conversation_id"], waiting_since=now - timedelta(minutes=10))
    await set_conversation(client, assigned["conversation_id"], assignee_id=agent.id)
    await set_conversation(client, answered["conversation_id"], waiting_since=None)
    await set_conversation(
        client, resolved["conversation_id"], status="resolved", waiting_since=now - timedelta(hours=5)
    )

    stats = await queues(client, supervisor.headers)
    assert set(stats) == {"support", "billing"}
    support = stats["support"]
    assert support["open"] == 3
    assert support["unassigned"] == 2
    assert support["waiting"] == 2
    assert 600 <= support["oldest_waiting_seconds"] < 5 * 3600  # the resolved one no longer waits
    assert support["members"] == 1
    billing = stats["billing"]
    assert (billing["open"], billing["unassigned"], billing["waiting"], billing["members"]) == (0, 0, 0, 0)
    assert billing["oldest_waiting_seconds"] is None


async def test_an_agent_sees_only_their_queues(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["billing"])
    lonely = await create_user(services, role="agent")
    await send_inbound(client, "shop")
    stats = await queues(client, agent.headers)
    assert list(stats) == ["billing"] and stats["billing"]["open"] == 1
    assert await queues(client, lonely.headers) == {}
    assert (await client.get("/api/v1/queues")).status == 401
