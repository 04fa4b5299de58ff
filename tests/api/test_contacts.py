"""Contacts: search, read, change (with timeline and event), timeline pages."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from hub.api import cursor
from hub.db.models import Contact, Conversation, EventRecord, TimelineEntry, utcnow
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def contact_of(client: Client, conversation_id: int) -> int:
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.contact_id


async def count(client: Client, model: type, *where: Any) -> int:
    async with services_of(client).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_search_matches_name_or_address_case_insensitively(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    erika = await send_inbound(client, sender={"email": "erika@example.de", "name": "Erika Mustermann"})
    max_ = await send_inbound(client, sender={"phone": "+49 30 1234567", "name": "Max Müller"})
    erika_id = await contact_of(client, erika["conversation_id"])
    max_id = await contact_of(client, max_["conversation_id"])

    async def ids(q: str) -> list[int]:
        resp = await client.get("/api/v1/contacts", headers=admin.headers, params={"q": q})
        assert resp.status == 200, await resp.text()
        return [c["id"] for c in (await resp.json())["items"]]

    assert await ids("MUSTER") == [erika_id]
    assert await ids("EXAMPLE.DE") == [erika_id]
    assert await ids("+4930") == [max_id]
    assert await ids("Müller") == [max_id]
    assert await ids("%") == []
    assert await ids("") == [max_id, erika_id]  # newest first


async def test_contact_pages_follow_the_cursor(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    for _ in range(5):
        await send_inbound(client)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        resp = await client.get("/api/v1/contacts", headers=admin.headers, params=params)
        assert resp.status == 200
        page = await resp.json()
        seen += [c["id"] for c in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


async def test_an_agent_finds_only_contacts_of_conversations_they_may_see(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    mine = await send_inbound(client, "web-form", sender={"email": "mine@example.test"})
    await send_inbound(client, "shop", sender={"email": "theirs@example.test"})
    resp = await client.get("/api/v1/contacts", headers=agent.headers, params={"q": "example.test"})
    assert [c["id"] for c in (await resp.json())["items"]] == [await contact_of(client, mine["conversation_id"])]


async def test_a_contact_shows_attributes_and_identities(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "a@example.test", "phone": "+4930123456", "name": "A"})
    contact_id = await contact_of(client, sent["conversation_id"])
    resp = await client.get(f"/api/v1/contacts/{contact_id}", headers=admin.headers)
    assert resp.status == 200
    contact = await resp.json()
    assert contact["id"] == contact_id and contact["name"] == "A" and contact["attributes"] == {}
    assert [i["kind"] for i in contact["identities"]] == ["email", "phone"]
    assert contact["erased_at"] is None
    assert (await client.get("/api/v1/contacts/999999", headers=admin.headers)).status == 404


async def test_patch_changes_name_and_merges_attributes_with_timeline_and_event(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "p@example.test", "name": "Alt"})
    contact_id = await contact_of(client, sent["conversation_id"])
    path = f"/api/v1/contacts/{contact_id}"

    resp = await client.patch(path, json={"name": "Neu", "attributes": {"kdnr": 4711, "tier": "gold"}}, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["name"] == "Neu" and body["attributes"] == {"kdnr": 4711, "tier": "gold"}

    resp = await client.patch(path, json={"attributes": {"tier": None, "vip": True}}, headers=admin.headers)
    assert (await resp.json())["attributes"] == {"kdnr": 4711, "vip": True}
    assert (await (await client.get(path, headers=admin.headers)).json())["name"] == "Neu"

    async with services_of(client).sessions() as session:
        entries = (
            await session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.contact_id == contact_id, TimelineEntry.kind == "contact_updated")
                .order_by(TimelineEntry.id)
            )
        ).all()
        events = (
            await session.scalars(
                select(EventRecord).where(EventRecord.type == "contact.updated").order_by(EventRecord.id)
            )
        ).all()
    assert [e.data for e in entries] == [{"fields": ["name", "attributes"]}, {"fields": ["attributes"]}]
    assert all(e.actor_user_id == admin.id for e in entries)
    assert [(e.contact_id, e.data) for e in events] == [
        (contact_id, {"fields": ["name", "attributes"]}),
        (contact_id, {"fields": ["attributes"]}),
    ]


async def test_a_patch_that_changes_nothing_records_nothing(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "n@example.test", "name": "Gleich"})
    contact_id = await contact_of(client, sent["conversation_id"])
    for body in ({}, {"name": "Gleich"}, {"attributes": {"gone": None}}):
        resp = await client.patch(f"/api/v1/contacts/{contact_id}", json=body, headers=admin.headers)
        assert resp.status == 200
    assert await count(client, TimelineEntry, TimelineEntry.kind == "contact_updated") == 0
    assert await count(client, EventRecord, EventRecord.type == "contact.updated") == 0


async def test_a_blank_name_clears_it(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "b@example.test", "name": "Weg"})
    contact_id = await contact_of(client, sent["conversation_id"])
    resp = await client.patch(f"/api/v1/contacts/{contact_id}", json={"name": "   "}, headers=admin.headers)
    assert (await resp.json())["name"] is None


async def test_bad_patches_are_rejected_and_change_nothing(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client, sender={"email": "x@example.test", "name": "Fest"})
    contact_id = await contact_of(client, sent["conversation_id"])
    cases: list[tuple[bytes, int]] = [
        (b"{nope", 400),
        (b'{"name": 5}', 422),
        (b'{"email": "x@example.test"}', 422),
        (b'{"name": "' + b"x" * 201 + b'"}', 422),
        (b'{"name": "a\\u0000b"}', 422),
        (b'{"attributes": {"k": {"nested": 1}}}', 422),
        (b'{"attributes": {"": 1}}', 422),
        (b'{"attributes": []}', 422),
        (b"[]", 422),
    ]
    for raw, status in cases:
        resp = await client.patch(
            f"/api/v1/contacts/{contact_id}",
            data=raw,
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert resp.status == status, (raw, await resp.text())
        assert (await resp.json())["status"] == status
    too_many = {f"k{i}": i for i in range(101)}
    resp = await client.patch(f"/api/v1/contacts/{contact_id}", json={"attributes": too_many}, headers=admin.headers)
    assert resp.status == 422
    contact = await (await client.get(f"/api/v1/contacts/{contact_id}", headers=admin.headers)).json()
    assert contact["name"] == "Fest" and contact["attributes"] == {}
    assert await count(client, TimelineEntry, TimelineEntry.kind == "contact_updated") == 0


async def test_an_erased_contact_cannot_be_changed(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client)
    contact_id = await contact_of(client, sent["conversation_id"])
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Contact).where(Contact.id == contact_id).values(erased_at=utcnow()))
    resp = await client.patch(f"/api/v1/contacts/{contact_id}", json={"name": "X"}, headers=admin.headers)
    assert resp.status == 409


async def test_the_timeline_is_newest_first_in_cursor_pages(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin", name="Ada")
    sender = {"email": "t@example.test"}
    sent = await send_inbound(client, sender=sender, text="eins")
    await send_inbound(client, sender=sender, text="zwei")
    contact_id = await contact_of(client, sent["conversation_id"])
    await client.patch(f"/api/v1/contacts/{contact_id}", json={"name": "T"}, headers=admin.headers)
    path = f"/api/v1/contacts/{contact_id}/timeline"

    resp = await client.get(path, headers=admin.headers, params={"limit": 2})
    first = await resp.json()
    assert [e["kind"] for e in first["items"]] == ["contact_updated", "message_in"]
    assert first["items"][0]["actor"] == {"id": admin.id, "name": "Ada"}
    assert first["items"][1]["channel"] == "web-form"
    assert first["items"][1]["conversation_id"] == sent["conversation_id"]
    second = await (await client.get(path, headers=admin.headers, params={"limit": 2, "cursor": first["next"]})).json()
    assert [e["kind"] for e in second["items"]] == ["message_in"]
    assert second["items"][0]["message_id"] == sent["message_id"]
    assert second["next"] is None
    foreign = cursor.encode(services_of(client).settings.secret_key, "contacts", [second["items"][0]["id"]])
    for bad in (first["next"][:-3] + "abc", foreign):
        assert (await client.get(path, headers=admin.headers, params={"cursor": bad})).status == 400


async def test_the_timeline_filters_by_kind_and_channel(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sender = {"email": "f@example.test"}
    sent = await send_inbound(client, "web-form", sender=sender)
    await send_inbound(client, "shop", sender=sender)
    contact_id = await contact_of(client, sent["conversation_id"])
    await client.patch(f"/api/v1/contacts/{contact_id}", json={"name": "F"}, headers=admin.headers)
    path = f"/api/v1/contacts/{contact_id}/timeline"

    async def kinds(**params: str) -> list[tuple[str, str | None]]:
        resp = await client.get(path, headers=admin.headers, params=params)
        assert resp.status == 200, await resp.text()
        return [(e["kind"], e["channel"]) for e in (await resp.json())["items"]]

    assert await kinds(kind="message_in") == [("message_in", "shop"), ("message_in", "web-form")]
    assert await kinds(channel="shop") == [("message_in", "shop")]
    assert await kinds(channel_type="api", kind="message_in", channel="web-form") == [("message_in", "web-form")]
    assert await kinds(kind="contact_updated") == [("contact_updated", None)]
    assert await kinds(kind="no-such-kind") == []
    assert await kinds(channel="a\x00b") == []
