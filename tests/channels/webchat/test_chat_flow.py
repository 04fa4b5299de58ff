"""A visitor writes, an agent sees it on /ws and answers, the visitor reads it live and after a reload."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


async def test_a_visitor_and_an_agent_chat_and_the_history_survives_a_reconnect(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    agent_ws = await client.ws_connect("/ws", headers=agent.headers)
    assert (await agent_ws.receive_json())["type"] == "hello"

    session = await start_session(client, locale="de-DE", prechat={"name": "Erika", "order": "A-17"})
    assert session["visitor"] == {"name": "Erika", "email": None, "verified": False, "locale": "de"}
    visitor = await Visitor.connect(client, session["token"])
    assert visitor.ready["messages"] == [] and visitor.ready["online"] is True

    ack = await visitor.say("Wo bleibt meine Bestellung?")
    assert ack["type"] == "ack" and ack["duplicate"] is False
    while True:
        event = (await agent_ws.receive_json())["event"]
        if event["type"] == "message.received":
            break
    assert event["conversation_id"] == ack["conversation_id"]
    assert event["data"] == {"message_id": ack["message_id"], "channel": "site-chat"}

    conversation_id = ack["conversation_id"]
    resp = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Sie ist unterwegs."}, headers=agent.headers
    )
    assert resp.status == 201
    await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "secret note", "private": True},
        headers=agent.headers,
    )
    reply = await visitor.expect(lambda f: f["type"] == "message" and f["message"]["direction"] == "out")
    assert reply["message"]["text"] == "Sie ist unterwegs."
    assert reply["message"]["author"] == agent_name(agent.email)
    await visitor.close()

    again = await Visitor.connect(client, session["token"])
    texts = [(m["direction"], m["text"]) for m in again.ready["messages"]]
    assert texts == [("in", "Wo bleibt meine Bestellung?"), ("out", "Sie ist unterwegs.")]
    assert again.ready["messages"][0]["client_id"] == ack["client_id"]

    details = await (await client.get(f"/api/v1/conversations/{conversation_id}/webchat", headers=agent.headers)).json()
    assert details["visitors"][0]["prechat"] == {"order": "A-17"}
    assert details["visitors"][0]["name"] == "Erika"
    await again.close()
    await agent_ws.close()


def agent_name(email: str) -> str:
    return "Agent " + email.removeprefix("agent").split("@")[0]


async def test_a_resent_message_is_stored_once(client: Client) -> None:
    session = await start_session(client)
    visitor = await Visitor.connect(client, session["token"])
    first = await visitor.say("Hallo", client_id="same-client-id-1")
    second = await visitor.say("Hallo", client_id="same-client-id-1")
    assert second["message_id"] == first["message_id"] and second["duplicate"] is True
    await visitor.close()


async def test_the_origin_allowlist_guards_every_route(client: Client) -> None:
    for origin in ({"Origin": "http://evil.test"}, {}):
        assert (await client.get("/widget/site-chat/config", headers=origin)).status == 403
        resp = await client.post("/widget/site-chat/sessions", json={}, headers=origin)
        assert resp.status == 403
        assert resp.content_type == "application/problem+json"
        resp = await client.get("/widget/site-chat/ws", headers={**origin, "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert resp.status == 403
    # A same-origin GET has no Origin; only the hub's own origin may use that, and it is not allowed here.
    for site in ("same-origin", "cross-site", "none"):
        assert (await client.get("/widget/site-chat/config", headers={"Sec-Fetch-Site": site})).status == 403
    ok = await client.get("/widget/site-chat/config", headers=ORIGIN)
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "http://shop.test"
    assert (await client.get("/widget/widget.js")).status == 200


async def test_another_tab_sees_the_message_and_the_sending_tab_only_its_ack(client: Client) -> None:
    session = await start_session(client)
    first = await Visitor.connect(client, session["token"])
    await first.say("opens the conversation")
    second = await Visitor.connect(client, session["token"])
    ack = await first.say("from the first tab")
    shown = await second.expect(lambda f: f["type"] == "message")
    assert shown["message"]["id"] == ack["message_id"] and shown["message"]["client_id"] == ack["client_id"]
    await first.say("and another")  # frames arrive in order: an echo would come before this ack
    assert [f["type"] for f in first.seen if f["type"] != "ready"] == ["ack", "ack", "ack"]
    await first.close()
    await second.close()
