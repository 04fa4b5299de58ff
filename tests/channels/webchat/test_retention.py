"""Visitor sessions are personal data: they go with their contact, and unused ones expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import delete, func, select, update

from hub.db.models import Contact, WebchatVisitor, utcnow
from hub.webchat.visitors import purge_unused
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import services_of

Client = TestClient[Any, Any]


async def sessions(client: Client) -> int:
    async with services_of(client).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebchatVisitor)) or 0)


async def test_unused_sessions_expire_and_erasing_a_contact_ends_its_sessions(client: Client) -> None:
    services = services_of(client)
    used = await start_session(client)
    visitor = await Visitor.connect(client, used["token"])
    await visitor.say("Hallo")
    await visitor.close()
    await start_session(client)  # never writes
    async with services.sessions() as session, session.begin():
        await session.execute(update(WebchatVisitor).values(last_seen_at=utcnow() - timedelta(days=2)))
    assert await purge_unused(services) == 1
    assert await sessions(client) == 1

    async with services.sessions() as session, session.begin():
        await session.execute(delete(Contact))
    assert await sessions(client) == 0
    ws = await client.ws_connect("/widget/site-chat/ws", headers=ORIGIN)
    await ws.send_json({"type": "hello", "token": used["token"]})
    assert (await ws.receive_json())["status"] == 401
    await ws.receive()
    assert ws.close_code == 4401
