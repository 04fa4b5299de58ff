"""Typing indicators and read receipts both ways, and the rating after resolution."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.db.models import EventRecord, Message
from tests.channels.webchat.visitor import Visitor, start_session
from tests.factories import TestUser, create_user, services_of

Client = TestClient[Any, Any]


async def agent_event(ws: aiohttp.ClientWebSocketResponse, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == "event" and match(frame["event"]):
                return dict(frame["event"])


async def chat(client: Client) -> tuple[TestUser, aiohttp.ClientWebSocketResponse, Visitor, dict[str, Any]]:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    agent_ws = await client.ws_connect("/ws", headers=agent.headers)
    await agent_ws.receive_json()  # hello
    visitor = await Visitor.connect(client, (await start_session(client))["token"])
    ack = await visitor.say("Hallo")
    return agent, agent_ws, visitor, ack


async def test_typing_shows_on_both_sides(client: Client) -> None:
    agent, agent_ws, visitor, ack = await chat(client)
    cid = ack["conversation_id"]
    await visitor.ws.send_json({"type": "typing", "typing": True})
    event = await agent_event(agent_ws, lambda e: e["type"] == "conversation.typing")
    assert event["conversation_id"] == cid and event["data"] == {"by": "visitor", "typing": True}

    resp = await client.put(f"/api/v1/conversations/{cid}/typing", json={"typing": True}, headers=agent.headers)
    assert resp.status == 204
    frame = await visitor.expect(lambda f: f["type"] == "typing")
    assert frame == {"type": "typing", "conversation_id": cid, "typing": True}
    # Presence, not history: connectors and outgoing webhooks never see typing.
    assert event["transient"] is True and event["id"] is None
    async with services_of(client).sessions() as session:
        assert await session.scalar(select(func.count()).where(EventRecord.type == "conversation.typing")) == 0
    await visitor.close()
    await agent_ws.close()


async def test_an_agent_types_only_where_they_may_see(client: Client) -> None:
    _, agent_ws, _, ack = await chat(client)
    outsider = await create_user(services_of(client), role="agent", queues=[])
    resp = await client.put(f"/api/v1/conversations/{ack['conversation_id']}/typing", json={"typing": True},
                            headers=outsider.headers)
    assert resp.status == 404
    await agent_ws.close()


async def test_read_receipts_go_both_ways(client: Client) -> None:
    agent, agent_ws, visitor, ack = await chat(client)
    cid = ack["conversation_id"]
    resp = await client.post(f"/api/v1/conversations/{cid}/read", json={"up_to_message_id": ack["message_id"]},
                             headers=agent.headers)
    assert resp.status == 200 and (await resp.json()) == {"up_to_message_id": ack["message_id"]}
    frame = await visitor.expect(lambda f: f["type"] == "read")
    assert frame["up_to"] == ack["message_id"]

    reply = await (await client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Hallo zurück"},
                                     headers=agent.headers)).json()
    await visitor.expect(lambda f: f["type"] == "message" and f["message"]["id"] == reply["id"])
    await visitor.ws.send_json({"type": "read", "up_to": reply["id"]})
    event = await agent_event(
        agent_ws, lambda e: e["type"] == "message.status_changed" and e["data"]["status"] == "read"
    )
    assert event["data"]["message_id"] == reply["id"]
    async with services_of(client).sessions() as session:
        assert await session.scalar(select(Message.status).where(Message.id == reply["id"])) == "read"
    await visitor.close()

    # After a reload the widget knows what the agent has read.
    again = await Visitor.connect(client, visitor.token)
    assert again.ready["agent_read_up_to"] == ack["message_id"]
    await again.close()
    await agent_ws.close()


async def test_a_resolved_conversation_is_rated_once(client: Client) -> None:
    agent, agent_ws, visitor, ack = await chat(client)
    cid = ack["conversation_id"]
    await visitor.ws.send_json({"type": "rate", "conversation_id": cid, "score": 5})
    early = await visitor.expect(lambda f: f["type"] == "error")
    assert early["status"] == 409

    resp = await client.put(f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=agent.headers)
    assert resp.status == 200
    state = await visitor.expect(lambda f: f["type"] == "conversation")
    assert state["conversation"] == {"id": cid, "status": "resolved"}
    await visitor.ws.send_json({"type": "rate", "conversation_id": cid, "score": 4, "comment": " Schnell! "})
    assert (await visitor.expect(lambda f: f["type"] == "rated"))["score"] == 4
    event = await agent_event(agent_ws, lambda e: e["type"] == "conversation.rated")
    assert event["data"] == {"score": 4}

    rating = await (await client.get(f"/api/v1/conversations/{cid}/rating", headers=agent.headers)).json()
    assert rating["score"] == 4 and rating["comment"] == "Schnell!"
    details = await (await client.get(f"/api/v1/conversations/{cid}/webchat", headers=agent.headers)).json()
    assert details["rating"]["score"] == 4

    await visitor.ws.send_json({"type": "rate", "conversation_id": cid, "score": 1})
    assert (await visitor.expect(lambda f: f["type"] == "error"))["status"] == 409
    await visitor.ws.send_json({"type": "rate", "conversation_id": cid + 1000, "score": 1})
    assert (await visitor.expect(lambda f: f["type"] == "error"))["status"] == 404
    await visitor.close()
    await agent_ws.close()


async def test_agents_of_other_queues_cannot_signal_or_read_the_chat(client: Client) -> None:
    _, agent_ws, visitor, ack = await chat(client)
    outsider = await create_user(services_of(client), role="agent", queues=["billing"])
    cid = ack["conversation_id"]
    for method, path, body in (
        ("PUT", "typing", {"typing": True}),
        ("POST", "read", {"up_to_message_id": ack["message_id"]}),
        ("GET", "rating", None),
        ("GET", "webchat", None),
    ):
        resp = await client.request(method, f"/api/v1/conversations/{cid}/{path}", json=body, headers=outsider.headers)
        assert resp.status == 404, (path, resp.status)
    await visitor.close()
    await agent_ws.close()
