"""Two hub processes sharing the database and Redis: a visitor on one, the agent on the other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from redis.exceptions import RedisError

from hub.api.app import create_app
from hub.api.widget_shared import WIDGET_LIMITS
from hub.auth.ratelimit import RedisCounters
from hub.bootstrap import build_services
from hub.bus_redis import RedisBus
from hub.webchat.limits import WidgetLimits
from tests.channels.webchat.conftest import chat_settings
from tests.channels.webchat.visitor import Visitor, start_session
from tests.factories import create_user, services_of
from tests.services import REDIS_URL, service_missing

Client = TestClient[Any, Any]


@pytest.fixture
async def nodes(database_url: str, tmp_path: Path, redis_prefix: str) -> AsyncIterator[list[Client]]:
    probe = aioredis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except (RedisError, OSError) as exc:
        service_missing("Redis", exc)
    finally:
        await probe.aclose()
    channel = f"hub:test:{uuid.uuid4().hex}"
    clients: list[Client] = []
    for n in (1, 2):
        settings = chat_settings(database_url, tmp_path / f"node{n}")
        bus = RedisBus(REDIS_URL, channel=channel, client_name=f"hub-test-{uuid.uuid4().hex[:12]}")
        app = create_app(settings, services=build_services(settings, bus=bus))
        app[WIDGET_LIMITS] = WidgetLimits(RedisCounters(REDIS_URL, prefix=redis_prefix, what="chat rate limit"))
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
    yield clients
    for client in clients:
        await client.close()


async def test_an_agent_on_one_process_answers_a_visitor_on_the_other_live(nodes: list[Client]) -> None:
    node1, node2 = nodes
    agent = await create_user(services_of(node2), role="agent", queues=["support"])
    visitor = await Visitor.connect(node1, (await start_session(node1))["token"])
    ack = await visitor.say("Hallo aus Prozess 1")
    cid = ack["conversation_id"]

    await node2.put(f"/api/v1/conversations/{cid}/typing", json={"typing": True}, headers=agent.headers)
    assert (await visitor.expect(lambda f: f["type"] == "typing"))["typing"] is True
    resp = await node2.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Antwort aus Prozess 2"},
                            headers=agent.headers)
    assert resp.status == 201
    reply = await visitor.expect(lambda f: f["type"] == "message" and f["message"]["direction"] == "out")
    assert reply["message"]["text"] == "Antwort aus Prozess 2"
    await visitor.close()
