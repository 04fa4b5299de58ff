"""Outgoing webhooks over REST, delivered by the running hub's background worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_user, send_inbound, services_of
from tests.inbox.callback_receiver import SECRET, Answer, CallbackReceiver, running_receiver

Client = TestClient[Any, Any]


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with running_receiver() as r:
        r.always = Answer(200, b"ok")
        yield r


async def test_a_subscription_gets_the_hubs_events_and_keeps_a_log(client: Client, receiver: CallbackReceiver) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    supervisor = await create_user(services, role="supervisor")
    body = {"name": "erp", "url": receiver.url, "event_types": ["message.received"], "secret": SECRET}
    assert (await client.post("/api/v1/webhooks", json=body, headers=supervisor.headers)).status == 403
    resp = await client.post("/api/v1/webhooks", json=body, headers=admin.headers)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["secret"] == SECRET
    listed = await (await client.get("/api/v1/webhooks", headers=admin.headers)).json()
    assert listed["items"][0].get("secret") is None and listed["items"][0]["event_types"] == ["message.received"]
    for bad in ({**body, "name": "x", "url": "http://169.254.169.254/"}, {**body, "name": "y", "event_types": []}):
        assert (await client.post("/api/v1/webhooks", json=bad, headers=admin.headers)).status == 422

    sent = await send_inbound(client)
    (payload,) = await receiver.wait_for(1)
    assert payload["event"]["data"]["message_id"] == sent["message_id"]
    base = f"/api/v1/webhooks/{created['id']}"
    delivery = await settled_delivery(client, f"{base}/deliveries", admin.headers)
    assert delivery["state"] == "done" and [t["status"] for t in delivery["tries"]] == [200]
    resp = await client.post(f"{base}/deliveries/{delivery['id']}/replay", headers=admin.headers)
    assert resp.status == 200
    await receiver.wait_for(2)
    assert receiver.received[1]["delivery_id"] == delivery["id"]
    assert (await client.post(f"{base}/deliveries/999/replay", headers=admin.headers)).status == 404

    resp = await client.patch(base, json={"active": False}, headers=admin.headers)
    assert (await resp.json())["active"] is False
    resp = await client.delete(base, headers=admin.headers)
    assert (await resp.json())["items"] == []


async def settled_delivery(client: Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The only delivery once the hub has recorded how it went (the receiver answers before that)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        (delivery,) = (await (await client.get(url, headers=headers)).json())["items"]
        if delivery["state"] != "pending" or loop.time() > deadline:
            return dict(delivery)
        await asyncio.sleep(0.05)
