"""Saved segments over REST, and as filters of the contact list and the inbox."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.test_contacts import contact_of
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def test_a_segment_filters_contacts_and_conversations(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    vip = await send_inbound(client, sender={"email": "vip@example.test"})
    other = await send_inbound(client, sender={"email": "other@example.test"})
    billing = await send_inbound(client, "shop", sender={"email": "vip2@example.test"})
    for sent in (vip, billing):
        contact_id = await contact_of(client, sent["conversation_id"])
        await client.put(f"/api/v1/contacts/{contact_id}/tags", json={"tags": ["vip"]}, headers=supervisor.headers)

    body = {"name": "VIPs", "description": "tagged vip", "definition": {"tag": "vip"}}
    assert (await client.post("/api/v1/segments", json=body, headers=agent.headers)).status == 403
    resp = await client.post("/api/v1/segments", json=body, headers=supervisor.headers)
    assert resp.status == 201, await resp.text()
    segment = await resp.json()
    assert (await client.post("/api/v1/segments", json=body, headers=supervisor.headers)).status == 409
    bad = {"name": "Bad", "definition": {"tag": ""}}
    resp = await client.post("/api/v1/segments", json=bad, headers=supervisor.headers)
    assert resp.status == 422 and "$.tag" in (await resp.json())["detail"]

    contacts = await (await client.get("/api/v1/contacts", params={"segment": segment["id"]},
                                       headers=supervisor.headers)).json()
    assert {c["id"] for c in contacts["items"]} == {
        await contact_of(client, vip["conversation_id"]), await contact_of(client, billing["conversation_id"])
    }
    # As an inbox view: the agent sees only their queue's conversations of the segment.
    view = await (await client.get("/api/v1/conversations", params={"segment": segment["id"]},
                                   headers=agent.headers)).json()
    assert [c["id"] for c in view["items"]] == [vip["conversation_id"]]
    assert other["conversation_id"] not in [c["id"] for c in view["items"]]
    assert (await client.get("/api/v1/conversations", params={"segment": 999}, headers=agent.headers)).status == 404

    changed = {**body, "definition": {"not": {"tag": "vip"}}}
    resp = await client.put(f"/api/v1/segments/{segment['id']}", json=changed, headers=supervisor.headers)
    assert (await resp.json())["definition"] == {"not": {"tag": "vip"}}
    listed = await (await client.get("/api/v1/segments", headers=agent.headers)).json()
    assert [s["name"] for s in listed["items"]] == ["VIPs"]
    assert (await client.get(f"/api/v1/segments/{segment['id']}", headers=agent.headers)).status == 200
    resp = await client.delete(f"/api/v1/segments/{segment['id']}", headers=supervisor.headers)
    assert (await resp.json())["items"] == []
