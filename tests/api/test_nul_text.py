"""Text no database can store (NUL) is a 422 at the boundary, never a 500 from the database."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.keys import SERVICES
from hub.db.models import Message
from tests.conftest import API_TOKEN
from tests.factories import create_user, send_inbound, services_of

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def test_nul_in_any_inbound_text_field_is_refused(client: TestClient[Any, Any]) -> None:
    bodies: list[dict[str, Any]] = [
        {"id": "a", "sender": {"email": "a@b.de"}, "text": "a\u0000b"},
        {"id": "b\u0000", "sender": {"email": "a@b.de"}, "text": "x"},
        {"id": "c", "sender": {"email": "a@b.de", "name": "Eve\u0000"}, "text": "x"},
        {"id": "d", "sender": {"external_id": "u\u00001"}, "text": "x"},
        {"id": "e", "sender": {"email": "a@b.de"}, "text": "x", "subject": "\u0000"},
    ]
    for body in bodies:
        resp = await client.post("/api/v1/channels/web-form/messages", json=body, headers=AUTH)
        assert resp.status == 422, (body, await resp.text())
        assert "NUL" in (await resp.json())["detail"]
    async with client.app[SERVICES].sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_nul_in_a_reply_is_refused(client: TestClient[Any, Any]) -> None:
    inbound = await send_inbound(client, "web-form")
    agent = await create_user(services_of(client), role="supervisor")
    resp = await client.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages",
        json={"body": "Hallo\u0000", "private": True},
        headers=agent.headers,
    )
    assert resp.status == 422, await resp.text()
