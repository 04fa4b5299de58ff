"""Bearer tokens are looked up once per few seconds, and a revocation or user change still applies at once."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import event, select

from hub.db.models import ApiToken
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


def token_queries(client: Client) -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "from users join api_tokens" in " ".join(statement.split()).lower():
            seen.append(statement)

    engine = services_of(client).engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


async def test_a_token_is_read_once_for_requests_in_quick_succession(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    seen, stop = token_queries(client)
    try:
        for _ in range(3):
            assert (await client.get("/api/v1/conversations", headers=agent.headers)).status == 200
    finally:
        stop()
    assert len(seen) == 1


async def test_a_revoked_token_is_refused_on_the_very_next_request(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    assert (await client.get("/api/v1/conversations", headers=agent.headers)).status == 200  # now cached
    async with services_of(client).sessions() as session:
        token_id = await session.scalar(select(ApiToken.id).where(ApiToken.user_id == agent.id))
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=agent.headers)).status == 204
    resp = await client.get("/api/v1/conversations", headers=agent.headers)
    assert resp.status == 401 and resp.content_type == "application/problem+json"


async def test_changed_queues_and_deactivation_apply_on_the_very_next_request(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["billing"])
    inbound = await send_inbound(client, "web-form")  # a support conversation
    url = f"/api/v1/conversations/{inbound['conversation_id']}"
    assert (await client.get(url, headers=agent.headers)).status == 404  # cached: billing only

    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"queues": ["support"]}, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    assert (await client.get(url, headers=agent.headers)).status == 200

    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"queues": []}, headers=admin.headers)
    assert resp.status == 200
    assert (await client.get(url, headers=agent.headers)).status == 404

    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"active": False}, headers=admin.headers)
    assert resp.status == 200
    assert (await client.get("/api/v1/conversations", headers=agent.headers)).status == 401
