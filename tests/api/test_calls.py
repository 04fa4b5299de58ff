"""GET /api/v1/calls, /calls/{id} and /conversations/{id}/call: who sees which call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.calls import CallEvent, CallResult, CallState
from hub.crm_link import identities
from hub.inbox.call_recordings import attach_recording
from hub.inbox.calls import record_call_event
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]
T0 = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)


async def report(client: Client, call_id: str, state: CallState, seconds: float = 0, *, channel: str = "web-form",
                 number: str = "+4930111", **fields: Any) -> CallResult:
    event = CallEvent(channel, call_id, state, customer=identities.phone(number), from_number=number,
                      to_number="+4930999", occurred_at=T0 + timedelta(seconds=seconds), **fields)
    return await record_call_event(services_of(client), event)


async def test_agents_see_the_calls_of_their_queues_and_their_own(client: Client) -> None:
    services = services_of(client)
    support = await create_user(services, role="agent", queues=["support"])
    billing = await create_user(services, role="agent", queues=["billing"])
    supervisor = await create_user(services, role="supervisor")
    in_support = await report(client, "s-1", CallState.QUEUED)
    in_billing = await report(client, "b-1", CallState.QUEUED, channel="shop", number="+4930222")

    resp = await client.get("/api/v1/calls", headers=support.headers)
    assert resp.status == 200
    body = await resp.json()
    assert [c["id"] for c in body["items"]] == [in_support.call.id] and body["next"] is None
    item = body["items"][0]
    assert (item["state"], item["queue"], item["from_number"], item["direction"]) == ("queued", "support", "+4930111", "in")
    assert item["conversation_id"] == in_support.call.conversation_id and item["recordings"] == []

    for path in (f"/api/v1/calls/{in_billing.call.id}", f"/api/v1/conversations/{in_billing.call.conversation_id}/call"):
        assert (await client.get(path, headers=support.headers)).status == 404
        assert (await client.get(path, headers=billing.headers)).status == 200
    resp = await client.get("/api/v1/calls", headers=supervisor.headers)
    assert {c["id"] for c in (await resp.json())["items"]} == {in_support.call.id, in_billing.call.id}

    # The PBX rings a support agent for a billing call: they see it, not its conversation.
    await report(client, "b-1", CallState.RINGING, 5, channel="shop", number="+4930222", agent=support.id)
    resp = await client.get(f"/api/v1/calls/{in_billing.call.id}", headers=support.headers)
    assert resp.status == 200 and (await resp.json())["agent_id"] == support.id
    assert (await client.get(f"/api/v1/conversations/{in_billing.call.conversation_id}/call",
                             headers=support.headers)).status == 404


async def test_live_calls_by_default_ended_ones_by_state_and_pages(client: Client) -> None:
    supervisor = await create_user(services_of(client), role="supervisor")
    live = [await report(client, f"c-{i}", CallState.QUEUED, number=f"+493011{i}") for i in range(3)]
    over = await report(client, "c-over", CallState.QUEUED, number="+4930199")
    await report(client, "c-over", CallState.ENDED, 30, number="+4930199")

    resp = await client.get("/api/v1/calls?limit=2", headers=supervisor.headers)
    first = await resp.json()
    assert [c["id"] for c in first["items"]] == [live[2].call.id, live[1].call.id] and first["next"]
    resp = await client.get("/api/v1/calls", params={"limit": "2", "cursor": first["next"]}, headers=supervisor.headers)
    second = await resp.json()
    assert [c["id"] for c in second["items"]] == [live[0].call.id] and second["next"] is None

    resp = await client.get("/api/v1/calls?state=ended", headers=supervisor.headers)
    (ended,) = (await resp.json())["items"]
    assert (ended["id"], ended["outcome"], ended["wait_seconds"], ended["talk_seconds"]) == (
        over.call.id, "abandoned", 30, 0)
    resp = await client.get("/api/v1/calls?queue=billing", headers=supervisor.headers)
    assert (await resp.json())["items"] == []
    for bad in ("state=lost", "limit=0", "cursor=garbage"):
        resp = await client.get(f"/api/v1/calls?{bad}", headers=supervisor.headers)
        assert resp.status == 400, bad
        assert resp.content_type == "application/problem+json"
    assert (await client.get("/api/v1/calls")).status == 401


async def test_the_call_of_a_conversation_with_its_recordings(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    call = await report(client, "r-1", CallState.TALKING, agent=agent.id)
    await attach_recording(services, "web-form", "r-1", b"\x00\x01" * 500, "audio/mpeg", duration_seconds=12)
    resp = await client.get(f"/api/v1/conversations/{call.call.conversation_id}/call", headers=agent.headers)
    assert resp.status == 200
    body = await resp.json()
    assert (body["id"], body["state"], body["agent_id"]) == (call.call.id, "talking", agent.id)
    (recording,) = body["recordings"]
    assert (recording["content_type"], recording["size"], recording["duration_seconds"]) == ("audio/mpeg", 1000, 12)
    chat = await client.post("/api/v1/channels/web-form/messages", json={
        "id": "m-1", "sender": {"email": "x@example.test"}, "text": "Hallo"},
        headers={"Authorization": "Bearer test-channel-token"})
    chat_conversation = (await chat.json())["conversation_id"]
    resp = await client.get(f"/api/v1/conversations/{chat_conversation}/call", headers=agent.headers)
    assert resp.status == 404 and "no call" in (await resp.json())["detail"]


async def test_a_recording_plays_for_who_may_see_the_conversation_and_for_nobody_else(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    other = await create_user(services, role="agent", queues=["billing"])
    supervisor = await create_user(services, role="supervisor")
    audio = bytes(range(256)) * 40
    call = await report(client, "r-1", CallState.TALKING, agent=agent.id)
    await attach_recording(services, "web-form", "r-1", audio, "audio/mpeg", duration_seconds=12)
    body = await (await client.get(f"/api/v1/calls/{call.call.id}", headers=agent.headers)).json()
    (recording,) = body["recordings"]
    url = recording["url"]
    assert url == f"/api/v1/calls/{call.call.id}/recordings/{recording['id']}"

    for headers in (agent.headers, supervisor.headers):
        resp = await client.get(url, headers=headers)
        assert resp.status == 200 and resp.content_type == "audio/mpeg"
        assert await resp.read() == audio
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    ranged = await client.get(url, headers={**agent.headers, "Range": "bytes=256-511"})
    assert ranged.status == 206 and ranged.headers["Content-Range"] == f"bytes 256-511/{len(audio)}"
    assert await ranged.read() == audio[256:512]

    assert (await client.get(url, headers=other.headers)).status == 404
    assert (await client.get(url)).status == 401
    # Rung for a call of another queue: the agent sees the call, not its conversation, so not its audio.
    foreign = await report(client, "b-1", CallState.RINGING, channel="shop", number="+4930222", agent=other.id)
    await attach_recording(services, "shop", "b-1", b"ID3" + audio, "audio/mpeg")
    resp = await client.get(f"/api/v1/calls/{foreign.call.id}", headers=other.headers)
    assert resp.status == 200
    (theirs,) = (await resp.json())["recordings"]
    await report(client, "b-1", CallState.TALKING, 5, channel="shop", number="+4930222", agent=supervisor.id)
    assert (await client.get(f"/api/v1/calls/{foreign.call.id}", headers=other.headers)).status == 200
    assert (await client.get(theirs["url"], headers=other.headers)).status == 404
    # A recording id under another call's id is no recording of that call.
    problem = await client.get(f"/api/v1/calls/{call.call.id}/recordings/{theirs['id']}", headers=supervisor.headers)
    assert problem.status == 404 and problem.content_type == "application/problem+json"
