"""Reading conversations: list with filters and cursor pages, one conversation, attachments."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from hub.db.models import Conversation, ConversationTag, Tag
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def get_json(
    client: Client, path: str, headers: dict[str, str], params: dict[str, Any] | None = None, expect: int = 200
) -> Any:
    resp = await client.get(path, headers=headers, params=params or {})
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def set_conversation(client: Client, conversation_id: int, **values: Any) -> None:
    async with services_of(client).sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))


async def test_the_list_shows_newest_activity_first_with_names(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    a = await send_inbound(client, "web-form", text="erste", subject="Lieferung")
    b = await send_inbound(client, "shop", text="zweite")
    page = await get_json(client, "/api/v1/conversations", admin.headers)
    assert [c["id"] for c in page["items"]] == [b["conversation_id"], a["conversation_id"]]
    assert page["next"] is None
    first = page["items"][1]
    assert first["channel"] == "web-form" and first["queue"] == "support"
    assert first["status"] == "open" and first["assignee"] is None and first["subject"] == "Lieferung"
    assert first["contact"]["name"] == "Kunde"
    assert first["contact"]["identities"][0]["kind"] == "email"
    assert page["items"][0]["queue"] == "billing"


async def test_a_new_message_moves_a_conversation_to_the_top(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sender = {"email": "stamm@example.test"}
    a = await send_inbound(client, sender=sender)
    await send_inbound(client, sender={"email": "other@example.test"})
    await send_inbound(client, sender=sender, text="noch etwas")
    page = await get_json(client, "/api/v1/conversations", admin.headers)
    assert page["items"][0]["id"] == a["conversation_id"]


async def test_cursor_pages_cover_every_conversation_once_in_order(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    ids = [(await send_inbound(client))["conversation_id"] for _ in range(7)]
    # Two share a timestamp: the id breaks the tie.
    async with services_of(client).sessions() as session:
        stamp = (await session.get(Conversation, ids[3])).last_message_at  # type: ignore[union-attr]
    await set_conversation(client, ids[4], last_message_at=stamp)
    full = await get_json(client, "/api/v1/conversations", admin.headers)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await get_json(client, "/api/v1/conversations", admin.headers, params)
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [c["id"] for c in full["items"]]
    assert sorted(seen) == sorted(ids)


async def test_a_changed_or_foreign_cursor_is_400(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    for _ in range(3):
        await send_inbound(client)
    page = await get_json(client, "/api/v1/conversations", admin.headers, {"limit": 1})
    cursor = page["next"]
    head, _, mac = cursor.partition(".")
    tampered = head[:-2] + ("A" if head[-2] != "A" else "B") + head[-1] + "." + mac
    contacts_page = await get_json(client, "/api/v1/contacts", admin.headers, {"limit": 1})
    for bad in (tampered, "garbage", "a.b", "", contacts_page["next"], cursor + "x"):
        problem = await get_json(client, "/api/v1/conversations", admin.headers, {"cursor": bad}, expect=400)
        assert problem["status"] == 400 and "cursor" in problem["detail"]


async def test_filters_by_status_queue_channel_contact_and_assignee(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"])
    support = await send_inbound(client, "web-form", sender={"email": "a@example.test"})
    billing = await send_inbound(client, "shop", sender={"email": "b@example.test"})
    resolved = await send_inbound(client, "web-form", sender={"email": "c@example.test"})
    await set_conversation(client, resolved["conversation_id"], status="resolved")
    await set_conversation(client, billing["conversation_id"], assignee_id=agent.id)

    async def ids(**params: Any) -> set[int]:
        page = await get_json(client, "/api/v1/conversations", admin.headers, params)
        return {c["id"] for c in page["items"]}

    assert await ids(status="resolved") == {resolved["conversation_id"]}
    assert await ids(status="open") == {support["conversation_id"], billing["conversation_id"]}
    assert await ids(queue="billing") == {billing["conversation_id"]}
    assert await ids(channel="web-form") == {support["conversation_id"], resolved["conversation_id"]}
    contact_id = (await get_json(client, f"/api/v1/conversations/{support['conversation_id']}", admin.headers))[
        "contact"
    ]["id"]
    assert await ids(contact=contact_id) == {support["conversation_id"]}
    assert await ids(assignee=agent.id) == {billing["conversation_id"]}
    assert await ids(assignee="none") == {support["conversation_id"], resolved["conversation_id"]}
    assert await ids(assignee="me") == set()
    mine = await get_json(client, "/api/v1/conversations", agent.headers, {"assignee": "me"})
    assert [c["id"] for c in mine["items"]] == [billing["conversation_id"]]
    assert await ids(queue="support", status="open") == {support["conversation_id"]}
    # A name or id that exists nowhere matches nothing rather than failing.
    assert await ids(queue="nope") == set()
    assert await ids(channel="nope") == set()
    assert await ids(contact=999999) == set()


async def test_search_finds_subject_and_text_case_insensitively_and_escapes_wildcards(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    rabatt = await send_inbound(client, text="Gibt es 100% Rabatt?", sender={"email": "r@example.test"})
    tausend = await send_inbound(client, text="Ich zahle 1000 Euro", sender={"email": "t@example.test"})
    subject = await send_inbound(
        client, text="siehe Betreff", subject="RECHNUNG_2024 fehlt", sender={"email": "s@example.test"}
    )
    under = await send_inbound(client, text="rechnungX2024", sender={"email": "u@example.test"})

    async def ids(q: str) -> set[int]:
        page = await get_json(client, "/api/v1/conversations", admin.headers, {"q": q})
        return {c["id"] for c in page["items"]}

    assert await ids("100%") == {rabatt["conversation_id"]}
    assert await ids("rabatt") == {rabatt["conversation_id"]}
    assert await ids("1000") == {tausend["conversation_id"]}
    assert await ids("rechnung_2024") == {subject["conversation_id"]}
    assert await ids("rechnung") == {subject["conversation_id"], under["conversation_id"]}
    assert await ids("\\") == set()
    assert await ids("nirgends") == set()
    everything = await ids("")
    assert len(everything) == 4


async def test_bad_filter_values_are_a_400_problem(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    bad: list[Any] = [
        {"status": "closed"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"contact": "abc"},
        {"contact": "-1"},
        {"contact": "99999999999999999999999"},
        {"assignee": "someone"},
        {"assignee": "0"},
        {"queue": ""},
        {"q": "x" * 201},
        [("status", "open"), ("status", "resolved")],
    ]
    for params in bad:
        resp = await client.get("/api/v1/conversations", headers=admin.headers, params=params)
        assert resp.status == 400, (params, await resp.text())
        assert resp.content_type == "application/problem+json"
        problem = await resp.json()
        assert problem["status"] == 400 and problem["detail"]


async def test_an_agent_lists_their_queues_and_their_own_conversations_only(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    supervisor = await create_user(services, role="supervisor")
    support = await send_inbound(client, "web-form")
    billing = await send_inbound(client, "shop")
    billing_mine = await send_inbound(client, "shop")
    await set_conversation(client, billing_mine["conversation_id"], assignee_id=agent.id)
    page = await get_json(client, "/api/v1/conversations", agent.headers)
    assert {c["id"] for c in page["items"]} == {support["conversation_id"], billing_mine["conversation_id"]}
    # A filter never widens the view.
    assert (await get_json(client, "/api/v1/conversations", agent.headers, {"queue": "billing", "assignee": "none"}))[
        "items"
    ] == []
    page = await get_json(client, "/api/v1/conversations", supervisor.headers)
    assert {c["id"] for c in page["items"]} == {
        support["conversation_id"],
        billing["conversation_id"],
        billing_mine["conversation_id"],
    }


async def test_one_conversation_has_its_messages_oldest_first_contact_and_tags(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin", name="Ada Admin")
    sender = {"email": "Erika@Example.DE", "phone": "+49 30 1234567", "name": "Erika"}
    first = await send_inbound(client, text="eins", html="<p onclick='x()'>eins<script>1</script></p>", sender=sender)
    second = await send_inbound(
        client, text="zwei", sender=sender, attachments=[("Rechnung März.pdf", "application/pdf", b"%PDF-1.4 x")]
    )
    conversation_id = first["conversation_id"]
    assert second["conversation_id"] == conversation_id
    async with services.sessions() as session, session.begin():
        tag = Tag(name="vip")
        session.add(tag)
        await session.flush()
        session.add(ConversationTag(conversation_id=conversation_id, tag_id=tag.id))
    await set_conversation(client, conversation_id, assignee_id=admin.id)

    detail = await get_json(client, f"/api/v1/conversations/{conversation_id}", admin.headers)
    assert detail["id"] == conversation_id
    assert detail["channel"] == "web-form" and detail["queue"] == "support"
    assert detail["assignee"] == {"id": admin.id, "name": "Ada Admin"}
    assert detail["tags"] == ["vip"]
    assert detail["contact"]["name"] == "Erika"
    assert {(i["kind"], i["address"]) for i in detail["contact"]["identities"]} == {
        ("email", "erika@example.de"),
        ("phone", "+49301234567"),
    }
    messages = detail["messages"]
    assert [m["text"] for m in messages] == ["eins", "zwei"]
    assert messages[0]["html"] == "<p>eins</p>"
    assert messages[0]["direction"] == "in" and messages[0]["private"] is False
    assert messages[0]["author"] is None and messages[0]["status"] == "received" and messages[0]["error"] is None
    (attachment,) = messages[1]["attachments"]
    assert attachment["filename"] == "Rechnung März.pdf"
    assert attachment["content_type"] == "application/pdf" and attachment["size"] == len(b"%PDF-1.4 x")
    assert attachment["url"] == f"/api/v1/attachments/{attachment['id']}"


async def test_an_unknown_or_malformed_conversation_id_is_404(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    for path in ("/api/v1/conversations/1", "/api/v1/conversations/0", "/api/v1/conversations/abc",
                 "/api/v1/conversations/99999999999999999999999"):
        problem = await get_json(client, path, admin.headers, expect=404)
        assert problem["status"] == 404


async def test_an_attachment_downloads_as_a_file_that_is_never_sniffed(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    content = b"<html><script>alert(1)</script></html>"
    sent = await send_inbound(client, attachments=[("böse\r\n\"name\".html", "text/html", content)])
    detail = await get_json(client, f"/api/v1/conversations/{sent['conversation_id']}", agent.headers)
    url = detail["messages"][0]["attachments"][0]["url"]
    resp = await client.get(url, headers=agent.headers)
    assert resp.status == 200
    assert await resp.read() == content
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition
    assert "filename*=UTF-8''b%C3%B6se%0D%0A%22name%22.html" in disposition
    assert 'filename="b_se___name_.html"' in disposition
    assert "sandbox" in resp.headers["Content-Security-Policy"]


async def test_attachments_need_authentication(client: Client) -> None:
    sent = await send_inbound(client, attachments=[("a.txt", "text/plain", b"hi")])
    admin = await create_user(services_of(client), role="admin")
    detail = await get_json(client, f"/api/v1/conversations/{sent['conversation_id']}", admin.headers)
    url = detail["messages"][0]["attachments"][0]["url"]
    assert (await client.get(url)).status == 401
    assert (await client.get("/api/v1/attachments/999999", headers=admin.headers)).status == 404
