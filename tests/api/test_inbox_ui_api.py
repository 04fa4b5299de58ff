"""The API the inbox UI adds: tag/priority/my-queue filters, conversation tags, viewing
signals, @mentions in notes, SLA due times and email quote offsets, saved views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from hub.db.models import Conversation, EventRecord, Message, SlaClock
from tests.api.test_ws import connect, events_until, hello, receive, received
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def ids(client: Client, headers: dict[str, str], **params: Any) -> set[int]:
    resp = await client.get("/api/v1/conversations", headers=headers, params=params)
    assert resp.status == 200, await resp.text()
    return {c["id"] for c in (await resp.json())["items"]}


async def events_of(client: Client, type_: str) -> list[EventRecord]:
    async with services_of(client).sessions() as session:
        return list((await session.scalars(select(EventRecord).where(EventRecord.type == type_).order_by(EventRecord.id))).all())


async def test_tags_are_set_exactly_and_filter_the_list(client: Client) -> None:
    agent = await create_user(services_of(client), queues=["support"])
    a = (await send_inbound(client))["conversation_id"]
    b = (await send_inbound(client))["conversation_id"]
    resp = await client.put(f"/api/v1/conversations/{a}/tags", json={"tags": [" Rückruf ", "vip", "VIP"]}, headers=agent.headers)
    assert resp.status == 200 and (await resp.json())["tags"] == ["rückruf", "vip"]
    assert await ids(client, agent.headers, tag="vip") == {a}
    assert await ids(client, agent.headers, tag="VIP") == {a}
    assert await ids(client, agent.headers, tag="nothing") == set()
    detail = await (await client.get(f"/api/v1/conversations/{a}", headers=agent.headers)).json()
    assert detail["tags"] == ["rückruf", "vip"]

    changed = await events_of(client, "conversation.tags_changed")
    assert [e.data["added"] for e in changed] == [["rückruf", "vip"]]
    resp = await client.put(f"/api/v1/conversations/{a}/tags", json={"tags": ["vip"]}, headers=agent.headers)
    assert (await resp.json())["tags"] == ["vip"]
    resp = await client.put(f"/api/v1/conversations/{a}/tags", json={"tags": ["vip"]}, headers=agent.headers)
    assert len(await events_of(client, "conversation.tags_changed")) == 2  # no change, no event
    assert await ids(client, agent.headers, tag="rückruf") == set()
    assert b not in await ids(client, agent.headers, tag="vip")


async def test_bad_tags_change_nothing_and_other_queues_read_404(client: Client) -> None:
    agent = await create_user(services_of(client), queues=["support"])
    outsider = await create_user(services_of(client), queues=["billing"])
    a = (await send_inbound(client))["conversation_id"]
    for bad in (["a,b"], ["x" * 101], [""], "vip"):
        resp = await client.put(f"/api/v1/conversations/{a}/tags", json={"tags": bad}, headers=agent.headers)
        assert resp.status in (400, 422), bad
    resp = await client.put(f"/api/v1/conversations/{a}/tags", json={"tags": ["x"]}, headers=outsider.headers)
    assert resp.status == 404
    assert await events_of(client, "conversation.tags_changed") == []


async def test_priority_and_my_queue_filters(client: Client) -> None:
    supervisor = await create_user(services_of(client), role="supervisor", queues=["billing"])
    support = (await send_inbound(client, "web-form"))["conversation_id"]
    billing = (await send_inbound(client, "shop"))["conversation_id"]
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == support).values(priority=5))
    assert await ids(client, supervisor.headers, priority_min=5) == {support}
    assert await ids(client, supervisor.headers, priority_min=0) == {support, billing}
    assert await ids(client, supervisor.headers, my_queues="true") == {billing}
    for bad in ({"priority_min": "-1"}, {"priority_min": "1001"}, {"my_queues": "yes"}):
        resp = await client.get("/api/v1/conversations", headers=supervisor.headers, params=bad)
        assert resp.status == 400, bad


async def test_viewing_reaches_colleagues_sockets_live_and_is_never_stored(client: Client) -> None:
    """Presence, not a change: the colleague's socket gets it at once; the events table, and so a
    replay from a cursor, connectors and webhooks, never see it; the outsider's socket neither."""
    services = services_of(client)
    agent = await create_user(services, queues=["support"])
    colleague = await create_user(services, queues=["support"])
    outsider = await create_user(services, queues=["billing"])
    first = await send_inbound(client)
    a, a_message = first["conversation_id"], first["message_id"]
    sockets = {user.id: await connect(client, user) for user in (colleague, outsider)}
    for ws in sockets.values():
        await hello(ws)

    resp = await client.put(f"/api/v1/conversations/{a}/viewing", json={"viewing": True}, headers=agent.headers)
    assert resp.status == 204
    message = await receive(sockets[colleague.id])
    event = message["event"]
    assert (event["type"], event["conversation_id"], event["id"], event["transient"]) == ("conversation.viewing", a, None, True)
    assert event["data"] == {"user_id": agent.id, "viewing": True} and event["queue_id"] == services.queues["support"]
    assert await events_of(client, "conversation.viewing") == []

    # The stream goes on in id order; the outsider never got the signal.
    b, c = await send_inbound(client), await send_inbound(client, "shop")
    for user, sent in ((colleague, b), (outsider, c)):
        after = await events_until(sockets[user.id], received(sent["message_id"]))
        assert "conversation.viewing" not in {e["type"] for e in after}
        assert [e["id"] for e in after] == sorted(e["id"] for e in after) and None not in [e["id"] for e in after]

    replay = await connect(client, colleague, cursor=0)
    await hello(replay)
    replayed = await events_until(replay, received(b["message_id"]))
    assert any(received(a_message)(e) for e in replayed)  # the replay covers the time of the signal
    assert "conversation.viewing" not in {e["type"] for e in replayed}

    resp = await client.put(f"/api/v1/conversations/{a}/viewing", json={"viewing": True}, headers=outsider.headers)
    assert resp.status == 404
    resp = await client.put(f"/api/v1/conversations/{a}/viewing", json={"viewing": "yes"}, headers=agent.headers)
    assert resp.status in (400, 422)
    for ws in (*sockets.values(), replay):
        await ws.close()


async def test_a_note_mentions_colleagues_who_can_see_it(client: Client) -> None:
    services = services_of(client)
    anna = await create_user(services, queues=["support"], name="Anna")
    ben = await create_user(services, queues=["support"], name="Ben")
    outsider = await create_user(services, queues=["billing"], name="Olga")
    a = (await send_inbound(client))["conversation_id"]
    url = f"/api/v1/conversations/{a}/messages"

    resp = await client.post(url, json={"body": "@Ben bitte", "private": True, "mentions": [ben.id]}, headers=anna.headers)
    assert resp.status == 201, await resp.text()
    note_id = (await resp.json())["id"]
    (event,) = await events_of(client, "message.mentioned")
    assert event.user_id == ben.id and event.queue_id is None
    assert event.data == {"message_id": note_id, "by_user_id": anna.id}

    for body, status in (
        ({"body": "@Olga", "private": True, "mentions": [outsider.id]}, 422),  # cannot see the conversation
        ({"body": "@x", "private": True, "mentions": [999999]}, 422),
        ({"body": "@Ben", "private": False, "mentions": [ben.id]}, 422),  # replies mention nobody
    ):
        resp = await client.post(url, json=body, headers=anna.headers)
        assert resp.status == status, (body, await resp.text())
    assert len(await events_of(client, "message.mentioned")) == 1
    async with services.sessions() as session:
        notes = (await session.scalars(select(Message.id).where(Message.conversation_id == a, Message.private.is_(True)))).all()
    assert list(notes) == [note_id]  # nothing half-written by the refused requests


async def test_summaries_carry_running_sla_targets_and_messages_their_quote_offset(client: Client) -> None:
    agent = await create_user(services_of(client), queues=["support"])
    a = (await send_inbound(client, text="Danke!\n\nAm Montag schrieb X:\n> alt"))["conversation_id"]
    due = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    async with services_of(client).sessions() as session, session.begin():
        session.add(SlaClock(conversation_id=a, target="first_response", policy="std", queue_id=None, state="warning",
                             running=True, goal_seconds=3600, elapsed_seconds=3000, due_at=due))
        session.add(SlaClock(conversation_id=a, target="resolution", policy="std", queue_id=None, state="hit",
                             running=False, goal_seconds=3600, elapsed_seconds=3000, due_at=due + timedelta(days=1)))
        await session.execute(update(Message).where(Message.conversation_id == a).values(quote_start=8))
    page = await (await client.get("/api/v1/conversations", headers=agent.headers)).json()
    (item,) = page["items"]
    assert item["sla"] == [{"target": "first_response", "policy": "std", "state": "warning", "due_at": "2031-01-01T12:00:00Z"}]
    detail = await (await client.get(f"/api/v1/conversations/{a}", headers=agent.headers)).json()
    assert detail["messages"][0]["quote_start"] == 8
    assert detail["messages"][0]["channel"] == "web-form"


async def test_saved_views_belong_to_their_user(client: Client) -> None:
    anna = await create_user(services_of(client), queues=["support"])
    ben = await create_user(services_of(client), queues=["support"])
    body = {"name": "VIP offen", "params": {"view": "queues", "status": "open", "tag": "vip", "q": "Rechnung"}}
    resp = await client.post("/api/v1/me/views", json=body, headers=anna.headers)
    assert resp.status == 201, await resp.text()
    saved = await resp.json()
    assert saved["params"] == body["params"]
    assert (await client.post("/api/v1/me/views", json=body, headers=anna.headers)).status == 409
    assert (await client.post("/api/v1/me/views", json=body, headers=ben.headers)).status == 201

    for bad in (
        {"name": "", "params": {}},
        {"name": "x", "params": {"view": "everything"}},
        {"name": "x", "params": {"assignee": "7"}},
        {"name": "x", "params": {"q": "a\u0000b"}},
    ):
        resp = await client.post("/api/v1/me/views", json=bad, headers=anna.headers)
        assert resp.status in (400, 422), bad

    mine = await (await client.get("/api/v1/me/views", headers=anna.headers)).json()
    assert [v["name"] for v in mine["items"]] == ["VIP offen"]
    assert (await client.delete(f"/api/v1/me/views/{saved['id']}", headers=ben.headers)).status == 404
    assert (await client.delete(f"/api/v1/me/views/{saved['id']}", headers=anna.headers)).status == 204
    assert (await (await client.get("/api/v1/me/views", headers=anna.headers)).json())["items"] == []
    assert len((await (await client.get("/api/v1/me/views", headers=ben.headers)).json())["items"]) == 1
