"""Conversation write routes and the outbox API, end to end through a running hub.

The hub's own dispatcher sends replies to a local callback receiver that verifies
the HMAC signature the way docs/channels/api.md tells integrators to.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.db.models import EventRecord, IdempotencyKey, Message, OutboxItem, TimelineEntry
from tests.api.conftest import Api
from tests.inbox.callback_receiver import Answer


async def test_a_reply_is_201_and_reaches_the_callback_signed(api: Api) -> None:
    cid = await api.customer_writes()
    resp = await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Ist unterwegs."}, headers=api.agent)
    assert resp.status == 201, await resp.text()
    message = await resp.json()
    assert (message["direction"], message["private"], message["status"]) == ("out", False, "queued")
    assert message["author"] == {"id": api.agent_id, "name": "agent"}
    (payload,) = await api.receiver.wait_for(1)
    assert payload["id"] == str(message["id"]) and payload["text"] == "Ist unterwegs."
    assert api.receiver.rejected == 0
    await api.outbox_settled()
    detail = await (await api.client.get(f"/api/v1/conversations/{cid}", headers=api.agent)).json()
    sent = [m for m in detail["messages"] if m["id"] == message["id"]]
    assert sent[0]["status"] == "sent"


async def test_a_double_submit_with_one_key_sends_once(api: Api) -> None:
    cid = await api.customer_writes()
    url = f"/api/v1/conversations/{cid}/messages"
    headers = {**api.agent, "Idempotency-Key": "reply-1"}
    first = await api.client.post(url, json={"body": "Hallo"}, headers=headers)
    second = await api.client.post(url, json={"body": "Hallo", "private": False}, headers=headers)
    assert (first.status, second.status) == (201, 201)
    assert await first.json() == await second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = await api.client.post(url, json={"body": "Anders"}, headers=headers)
    assert other.status == 422
    await api.receiver.wait_for(1)
    await api.outbox_settled()
    assert await api.count(Message, Message.direction == "out") == 1
    assert len(api.receiver.received) == 1


async def test_concurrent_submits_with_one_key_make_one_message_and_one_send(api: Api) -> None:
    cid = await api.customer_writes()
    headers = {**api.agent, "Idempotency-Key": "tap-tap-tap"}
    responses = await asyncio.gather(
        *(api.client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Hallo"}, headers=headers) for _ in range(5))
    )
    assert [r.status for r in responses] == [201] * 5
    bodies = [await r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    await api.receiver.wait_for(1)
    await api.outbox_settled()
    assert await api.count(Message, Message.direction == "out") == 1
    assert await api.count(IdempotencyKey) == 1
    assert api.receiver.ids() == [str(bodies[0]["id"])]


async def test_a_private_note_never_reaches_the_callback(api: Api) -> None:
    cid = await api.customer_writes()
    url = f"/api/v1/conversations/{cid}/messages"
    note = await api.client.post(url, json={"body": "intern: VIP", "private": True}, headers=api.agent)
    assert note.status == 201
    assert (await note.json())["status"] == "note"
    reply = await api.client.post(url, json={"body": "öffentlich"}, headers=api.agent)
    await api.receiver.wait_for(1)
    await api.outbox_settled()
    assert [p["text"] for p in api.receiver.received] == ["öffentlich"]
    assert api.receiver.ids() == [str((await reply.json())["id"])]


async def test_a_reply_on_a_channel_without_callback_is_409_and_writes_nothing(api: Api) -> None:
    cid = await api.customer_writes(channel="shop")
    before = [await api.count(m) for m in (Message, OutboxItem, TimelineEntry, EventRecord, IdempotencyKey)]
    resp = await api.client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"body": "Hallo"},
        headers={**api.outsider, "Idempotency-Key": "k"},
    )
    assert resp.status == 409
    assert resp.content_type == "application/problem+json"
    assert "cannot send" in (await resp.json())["detail"]
    assert [await api.count(m) for m in (Message, OutboxItem, TimelineEntry, EventRecord, IdempotencyKey)] == before


async def test_another_queues_agent_gets_404_for_every_write(api: Api) -> None:
    cid = await api.customer_writes()
    before = await api.count(TimelineEntry)
    calls = [
        api.client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "x", "private": True}, headers=api.outsider),
        api.client.put(f"/api/v1/conversations/{cid}/assignee", json={"agent_id": None}, headers=api.outsider),
        api.client.put(f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=api.outsider),
    ]
    for call in calls:
        assert (await call).status == 404
    assert await api.count(TimelineEntry) == before
    assert (await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "x"})).status == 401


async def test_bad_bodies_are_rejected_with_a_problem(api: Api) -> None:
    cid = await api.customer_writes()
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cases: list[tuple[str, str, Any, int]] = [
        ("post", "messages", {"body": "x", "surprise": 1}, 422),
        ("post", "messages", {"private": True}, 422),
        ("post", "messages", {"body": ""}, 422),
        ("post", "messages", {"body": 5}, 422),
        ("put", "assignee", {}, 422),
        ("put", "assignee", {"agent_id": "me"}, 422),
        ("put", "assignee", {"agent_id": 0}, 422),
        ("put", "status", {"status": "closed"}, 422),
        ("put", "status", {"status": "snoozed"}, 422),
        ("put", "status", {"status": "snoozed", "until": "2099-01-01T10:00:00"}, 422),
        ("put", "status", {"status": "open", "until": soon}, 422),
    ]
    for method, tail, body, status in cases:
        resp = await getattr(api.client, method)(f"/api/v1/conversations/{cid}/{tail}", json=body, headers=api.agent)
        assert resp.status == status, (tail, body, await resp.text())
        assert (await resp.json())["detail"]
    raw = await api.client.post(
        f"/api/v1/conversations/{cid}/messages", data=b"{nope", headers={**api.agent, "Content-Type": "application/json"}
    )
    assert raw.status == 400
    for bad_id in ("abc", "0", "99999999999999999999999"):
        resp = await api.client.put(f"/api/v1/conversations/{bad_id}/status", json={"status": "open"}, headers=api.agent)
        assert resp.status == 404
    bad_key = await api.client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "x"}, headers={**api.agent, "Idempotency-Key": "a b"}
    )
    assert bad_key.status == 400
    assert await api.count(Message, Message.direction == "out") == 0


async def test_assign_and_status_return_the_conversation(api: Api) -> None:
    cid = await api.customer_writes()
    resp = await api.client.put(f"/api/v1/conversations/{cid}/assignee", json={"agent_id": api.agent_id}, headers=api.agent)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assignee"] == {"id": api.agent_id, "name": "agent"}
    until = datetime.now(UTC) + timedelta(days=1)
    resp = await api.client.put(
        f"/api/v1/conversations/{cid}/status", json={"status": "snoozed", "until": until.isoformat()}, headers=api.agent
    )
    assert resp.status == 200, await resp.text()
    summary = await resp.json()
    assert summary["status"] == "snoozed"
    assert datetime.fromisoformat(summary["snoozed_until"].replace("Z", "+00:00")) == until
    resp = await api.client.put(f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=api.agent)
    assert (await resp.json())["resolved_at"] is not None
    resp = await api.client.put(f"/api/v1/conversations/{cid}/assignee", json={"agent_id": None}, headers=api.agent)
    assert (await resp.json())["assignee"] is None


async def test_dead_letters_are_listed_and_retried_by_supervisors(api: Api) -> None:
    api.receiver.always = Answer(400, b"rejected")
    for i in range(3):
        cid = await api.customer_writes(id=f"m-{i}", email=f"k{i}@example.de")
        resp = await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"body": f"r{i}"}, headers=api.agent)
        assert resp.status == 201
    await api.receiver.wait_for(3)
    await api.outbox_settled()
    assert (await api.client.get("/api/v1/outbox", headers=api.agent)).status == 403
    first = await (await api.client.get("/api/v1/outbox?state=dead&limit=2", headers=api.supervisor)).json()
    assert len(first["items"]) == 2 and first["next"]
    rest = await (
        await api.client.get("/api/v1/outbox", params={"state": "dead", "limit": 2, "cursor": first["next"]}, headers=api.supervisor)
    ).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    entries = first["items"] + rest["items"]
    assert all(e["state"] == "dead" and e["message_status"] == "failed" and "400" in e["last_error"] for e in entries)
    assert (await api.client.get("/api/v1/outbox?cursor=forged", headers=api.supervisor)).status == 400
    assert (await api.client.get("/api/v1/outbox?state=done", headers=api.supervisor)).status == 400

    api.receiver.always = None
    target = entries[0]
    assert (await api.client.post(f"/api/v1/outbox/{target['id']}/retry", headers=api.agent)).status == 403
    resp = await api.client.post(f"/api/v1/outbox/{target['id']}/retry", headers=api.supervisor)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "pending"
    await api.receiver.wait_for(4)
    await api.outbox_settled()
    assert api.receiver.ids()[-1] == str(target["message_id"])
    again = await api.client.post(f"/api/v1/outbox/{target['id']}/retry", headers=api.supervisor)
    assert again.status == 409
    assert (await api.client.post("/api/v1/outbox/999999/retry", headers=api.supervisor)).status == 404
    remaining = await (await api.client.get("/api/v1/outbox", headers=api.supervisor)).json()
    assert len(remaining["items"]) == 2
