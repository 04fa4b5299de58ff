"""Creating contacts, their identities, tags, notes, companies, attributes, merges and duplicates over REST."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.test_contacts import contact_of
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def test_a_contact_is_created_with_everything_and_listed_by_filters(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    resp = await client.post("/api/v1/companies", json={"name": "Acme GmbH", "domain": "acme.de"},
                             headers=supervisor.headers)
    assert resp.status == 201, await resp.text()
    company = await resp.json()
    assert (await client.post("/api/v1/companies", json={"name": "X"}, headers=agent.headers)).status == 403

    body = {"name": "Erika", "emails": ["Erika@Acme.de"], "phones": ["030 1234567"], "region": "DE",
            "company_id": company["id"], "lifecycle_stage": "prospect", "attributes": {"city": "Berlin"},
            "tags": ["VIP"]}
    resp = await client.post("/api/v1/contacts", json=body, headers=agent.headers)
    assert resp.status == 201, await resp.text()
    erika = await resp.json()
    assert erika["owner_id"] == agent.id and erika["tags"] == ["vip"]
    assert [(i["kind"], i["address"]) for i in erika["identities"]] == [("email", "erika@acme.de"),
                                                                        ("phone", "+49301234567")]
    # The agent owns it, so they see it though it has no conversation.
    assert (await client.get(f"/api/v1/contacts/{erika['id']}", headers=agent.headers)).status == 200
    resp = await client.post("/api/v1/contacts", json={"emails": ["erika@acme.de"]}, headers=agent.headers)
    assert resp.status == 409 and (await resp.json())["code"] == "identity_taken"
    for bad in ({"phones": ["030 1234567"]}, {"emails": ["no"]}, {"lifecycle_stage": "friend"}, {"x": 1}):
        assert (await client.post("/api/v1/contacts", json=bad, headers=agent.headers)).status == 422, bad

    await send_inbound(client, sender={"email": "other@example.test"})

    async def listed(**params: str) -> list[int]:
        resp = await client.get("/api/v1/contacts", params=params, headers=supervisor.headers)
        assert resp.status == 200, await resp.text()
        return [c["id"] for c in (await resp.json())["items"]]

    assert await listed(company=str(company["id"])) == [erika["id"]]
    assert await listed(tag="VIP") == [erika["id"]]
    assert await listed(lifecycle_stage="prospect") == [erika["id"]]
    assert await listed(owner=str(agent.id)) == [erika["id"]]
    assert len(await listed()) == 2
    company_view = await (await client.get(f"/api/v1/companies/{company['id']}", headers=agent.headers)).json()
    assert company_view["contacts"] == 1
    page = await (await client.get("/api/v1/companies", params={"q": "acme"}, headers=agent.headers)).json()
    assert [c["name"] for c in page["items"]] == ["Acme GmbH"]
    resp = await client.patch(f"/api/v1/companies/{company['id']}", json={"domain": None}, headers=supervisor.headers)
    assert (await resp.json())["domain"] is None


async def test_identities_tags_and_notes_of_a_contact(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "t@example.test"})
    contact_id = await contact_of(client, sent["conversation_id"])
    base = f"/api/v1/contacts/{contact_id}"

    resp = await client.post(f"{base}/identities", json={"kind": "phone", "address": "whatsapp:+4917612345678"},
                             headers=admin.headers)
    assert resp.status == 201, await resp.text()
    identity = await resp.json()
    assert identity["address"] == "+4917612345678"
    for bad in ({"kind": "platform", "address": "nocolon"}, {"kind": "email", "address": "x"}):
        assert (await client.post(f"{base}/identities", json=bad, headers=admin.headers)).status == 422
    resp = await client.delete(f"{base}/identities/{identity['id']}", headers=admin.headers)
    assert [i["kind"] for i in (await resp.json())["identities"]] == ["email"]
    assert (await client.delete(f"{base}/identities/{identity['id']}", headers=admin.headers)).status == 404

    resp = await client.put(f"{base}/tags", json={"tags": ["b", "A"]}, headers=admin.headers)
    assert (await resp.json())["tags"] == ["a", "b"]
    resp = await client.post(f"{base}/notes", json={"body": "Kunde seit 2010"}, headers=admin.headers)
    assert resp.status == 201
    note = await resp.json()
    notes = await (await client.get(f"{base}/notes", headers=admin.headers)).json()
    assert [n["body"] for n in notes["items"]] == ["Kunde seit 2010"]
    resp = await client.delete(f"{base}/notes/{note['id']}", headers=admin.headers)
    assert (await resp.json())["items"] == []


async def test_attribute_definitions_check_values(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"])
    definition = {"key": "tier", "label": "Stufe", "type": "choice", "choices": ["gold", "silver"]}
    assert (await client.post("/api/v1/attributes", json=definition, headers=agent.headers)).status == 403
    resp = await client.post("/api/v1/attributes", json=definition, headers=admin.headers)
    assert resp.status == 201, await resp.text()
    assert (await client.post("/api/v1/attributes", json=definition, headers=admin.headers)).status == 409
    listed = await (await client.get("/api/v1/attributes", headers=agent.headers)).json()
    assert listed["items"] == [{"key": "tier", "label": "Stufe", "type": "choice", "choices": ["gold", "silver"]}]
    sent = await send_inbound(client)
    contact_id = await contact_of(client, sent["conversation_id"])
    resp = await client.patch(f"/api/v1/contacts/{contact_id}", json={"attributes": {"tier": "bronze"}},
                              headers=agent.headers)
    assert resp.status == 422
    resp = await client.delete("/api/v1/attributes/tier", headers=admin.headers)
    assert (await resp.json())["items"] == []
    assert (await client.delete("/api/v1/attributes/tier", headers=admin.headers)).status == 404


async def test_merge_undo_and_duplicates_over_rest(client: Client) -> None:
    supervisor = await create_user(services_of(client), role="supervisor")
    first = await send_inbound(client, sender={"email": "max.meier@example.test", "name": "Max"})
    second = await send_inbound(client, "shop", sender={"email": "maxmeier@example.test"})
    a = await contact_of(client, first["conversation_id"])
    b = await contact_of(client, second["conversation_id"])

    duplicates = await (await client.get(f"/api/v1/contacts/{a}/duplicates", headers=supervisor.headers)).json()
    assert [(d["contact"]["id"], d["reasons"]) for d in duplicates["items"]] == [(b, ["similar_email"])]

    resp = await client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b}, headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    merge = await resp.json()
    assert merge["moved"]["conversations"] == 1 and merge["moved"]["contact_identities"] == 1
    hidden = await (await client.get(f"/api/v1/contacts/{b}", headers=supervisor.headers)).json()
    assert hidden["merged_into_id"] == a
    listed = await (await client.get("/api/v1/contacts", headers=supervisor.headers)).json()
    assert [c["id"] for c in listed["items"]] == [a]
    merges = await (await client.get(f"/api/v1/contacts/{b}/merges", headers=supervisor.headers)).json()
    assert [m["id"] for m in merges["items"]] == [merge["id"]]
    assert (await client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b},
                              headers=supervisor.headers)).status == 409

    resp = await client.post(f"/api/v1/merges/{merge['id']}/undo", headers=supervisor.headers)
    assert resp.status == 200 and (await resp.json())["unmerged_at"] is not None
    assert (await client.post(f"/api/v1/merges/{merge['id']}/undo", headers=supervisor.headers)).status == 409
    assert (await client.post("/api/v1/merges/999/undo", headers=supervisor.headers)).status == 404

    resp = await client.post(f"/api/v1/contacts/{a}/duplicates/{b}/dismiss", headers=supervisor.headers)
    assert (await resp.json())["items"] == []
