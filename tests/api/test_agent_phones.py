"""Where agents take calls: their own phone or SIP address; supervisors set anyone's."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


async def test_agents_set_their_phone_and_supervisors_anyones(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    other = await create_user(services, role="agent", queues=["support"])
    supervisor = await create_user(services, role="supervisor")

    resp = await client.get("/api/v1/agents/me/phone", headers=agent.headers)
    assert resp.status == 200 and (await resp.json())["phone"] is None

    resp = await client.put("/api/v1/agents/me/phone", json={"phone": "030 1234567"}, headers=agent.headers)
    assert resp.status == 422, await resp.text()  # not E.164 and no country to read it with
    resp = await client.put("/api/v1/agents/me/phone", json={"phone": "+49 30 1234567"}, headers=agent.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["phone"] == "+49301234567"

    resp = await client.put(f"/api/v1/agents/{other.id}/phone", json={"phone": "+4930999"}, headers=agent.headers)
    assert resp.status == 403
    resp = await client.put(f"/api/v1/agents/{other.id}/phone", json={"sip": "sip:other@pbx.example.test"},
                            headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    resp = await client.get(f"/api/v1/agents/{other.id}/phone", headers=supervisor.headers)
    body = await resp.json()
    assert body["sip"] == "sip:other@pbx.example.test" and body["phone"] is None

    for bad in ({"sip": "sip:<script>@x"}, {"sip": "http://pbx"}, {"phone": 4930}, {"colour": "red"}):
        resp = await client.put("/api/v1/agents/me/phone", json=bad, headers=agent.headers)
        assert resp.status in (400, 422), (bad, await resp.text())
    resp = await client.get("/api/v1/agents/me/phone", headers=agent.headers)
    assert (await resp.json())["phone"] == "+49301234567"  # a refused change changed nothing
    resp = await client.put("/api/v1/agents/999999/phone", json={"phone": "+4930999"}, headers=supervisor.headers)
    assert resp.status == 404
    resp = await client.put("/api/v1/agents/me/phone", json={}, headers=agent.headers)
    assert resp.status == 200 and (await resp.json())["phone"] is None
