"""When every database connection stays busy past the pool timeout, requests get 503 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from hub.api.app import create_app
from hub.api.problems import POOL_RETRY_AFTER_SECONDS
from hub.bootstrap import build_services
from hub.config import Settings
from hub.db import engine as hub_engine
from hub.db.models import Message
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


@pytest.fixture
async def one_connection(settings: Settings) -> AsyncIterator[Client]:
    """A hub whose pool has a single connection and gives up waiting for it after 0.2 s."""
    services = build_services(settings)
    await services.engine.dispose()
    engine = create_async_engine(
        settings.database_url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", hub_engine._sqlite_pragmas)
    services.engine = engine
    services.sessions = hub_engine.session_factory(engine)
    async with TestClient(TestServer(create_app(settings, services=services))) as client:
        yield client


async def test_a_note_that_finds_no_free_connection_is_a_503_problem_and_stores_nothing(one_connection: Client) -> None:
    client = one_connection
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    inbound = await send_inbound(client, "web-form")

    async with services.engine.connect() as held:  # the only connection, busy elsewhere
        await held.execute(text("SELECT 1"))
        resp = await client.post(
            f"/api/v1/conversations/{inbound['conversation_id']}/messages",
            json={"body": "Kunde ruft zurück", "private": True}, headers=agent.headers,
        )
        assert resp.status == 503
        assert resp.headers["Retry-After"] == str(POOL_RETRY_AFTER_SECONDS)
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert (body["status"], body["title"]) == (503, "Service unavailable")

    async with services.sessions() as session:
        written = (await session.scalars(select(Message.id).where(Message.author_user_id == agent.id))).all()
    assert written == []
    resp = await client.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages",
        json={"body": "Kunde ruft zurück", "private": True}, headers=agent.headers,
    )
    assert resp.status == 201  # the retry Retry-After asks for succeeds once a connection is free
