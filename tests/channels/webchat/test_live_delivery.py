"""A reply to a visitor whose widget is open here is sent in its own transaction; else it takes the outbox."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import event, select

from hub.api.widget_shared import LIVE
from hub.db.models import Message, OutboxItem
from tests.channels.webchat.visitor import Visitor, start_session
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


async def reply(client: Client, headers: dict[str, str], conversation_id: int, body: str) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": body}, headers=headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def outbox_rows(client: Client) -> list[tuple[int, str]]:
    async with services_of(client).sessions() as session:
        return [(m, s) for m, s in (await session.execute(select(OutboxItem.message_id, OutboxItem.state))).all()]


async def stored(client: Client, message_id: int) -> tuple[str, str | None]:
    async with services_of(client).sessions() as session:
        status, provider_id = (
            await session.execute(select(Message.status, Message.provider_message_id).where(Message.id == message_id))
        ).one()
    return status, provider_id


async def test_a_reply_to_an_open_widget_is_sent_without_the_outbox_and_arrives_live(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    session = await start_session(client)
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Ist jemand da?")

    answer = await reply(client, agent.headers, ack["conversation_id"], "Ja, hier!")
    assert answer["status"] == "sent" and answer["sent_at"] is not None
    frame = await visitor.expect(lambda f: f["type"] == "message" and f["message"]["direction"] == "out")
    assert (frame["message"]["id"], frame["message"]["text"]) == (answer["id"], "Ja, hier!")
    assert await outbox_rows(client) == []
    assert await stored(client, answer["id"]) == ("sent", None)
    await visitor.close()


async def test_a_live_reply_without_files_writes_no_outbox_row_and_reads_no_attachments(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    session = await start_session(client)
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Kurze Frage")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    engine = services_of(client).engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = await reply(client, agent.headers, ack["conversation_id"], "Kurze Antwort")
        await visitor.expect(lambda f: f["type"] == "message" and f["message"]["id"] == answer["id"])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer["attachments"] == []
    assert not [s for s in statements if s.startswith("insert into outbox_items")]
    # The widget's push reads the message with its files (one query); the reply itself reads none.
    assert len([s for s in statements if "from messages" in s and "attachments" in s]) == 1
    assert not [s for s in statements if s.startswith("select") and "from attachments" in s]
    await visitor.close()


async def test_once_the_widget_is_closed_the_reply_goes_through_the_outbox_and_waits_in_the_history(
    client: Client,
) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    session = await start_session(client)
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Ich schaue später wieder rein.")
    await visitor.close()
    for _ in range(100):  # the server notices the close a moment after the client
        if not client.app[LIVE].follows(ack["conversation_id"]):
            break
        await asyncio.sleep(0.02)

    answer = await reply(client, agent.headers, ack["conversation_id"], "Hier ist die Antwort.")
    assert answer["status"] == "queued"
    for _ in range(200):
        if await stored(client, answer["id"]) != ("queued", None):
            break
        await asyncio.sleep(0.02)
    assert await stored(client, answer["id"]) == ("sent", f"webchat-{answer['id']}")
    assert await outbox_rows(client) == [(answer["id"], "done")]

    again = await Visitor.connect(client, session["token"])
    assert [m["text"] for m in again.ready["messages"]] == ["Ich schaue später wieder rein.", "Hier ist die Antwort."]
    await again.close()
