"""A visitor's sessions and rating comments are part of the customer record: exported and erased."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.db.models import ConversationRating, WebchatVisitor
from tests.channels.webchat.test_tokens import claim
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


async def test_erasing_a_chatting_customer_removes_their_sessions_and_comment(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin", queues=["support"])
    session = await start_session(
        client, identity=claim("cust-99", "walburga@example.com"), prechat={"order": "Geheim-4711"}
    )
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Hallo")
    cid = ack["conversation_id"]
    await client.put(f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=admin.headers)
    await visitor.expect(lambda f: f["type"] == "conversation")
    await visitor.ws.send_json({"type": "rate", "conversation_id": cid, "score": 2, "comment": "Zu langsam, Walburga"})
    await visitor.expect(lambda f: f["type"] == "rated")
    await visitor.close()
    contact_id = (await (await client.get(f"/api/v1/conversations/{cid}", headers=admin.headers)).json())["contact"]["id"]

    export = await client.get(f"/api/v1/contacts/{contact_id}/export", headers=admin.headers)
    assert export.status == 200
    archive = zipfile.ZipFile(io.BytesIO(await export.read()))
    everything = "\n".join(archive.read(n).decode(errors="replace") for n in archive.namelist() if n.endswith(".json"))
    assert "Geheim-4711" in everything and "cust-99" in everything and "Zu langsam, Walburga" in everything

    resp = await client.post(f"/api/v1/contacts/{contact_id}/erasure", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report["tables"]["webchat_visitors"]["action"] == "delete"
    async with services_of(client).sessions() as db:
        assert await db.scalar(select(func.count()).select_from(WebchatVisitor)) == 0
        rating = await db.get(ConversationRating, cid)
    assert rating is not None and rating.score == 2 and rating.comment is None

    ws = await client.ws_connect("/widget/site-chat/ws", headers=ORIGIN)
    await ws.send_json({"type": "hello", "token": session["token"]})
    assert (await ws.receive_json())["status"] == 401
    assert json.dumps(report)  # the report is plain JSON
