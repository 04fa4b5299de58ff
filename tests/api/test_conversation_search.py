"""Full-text search in the conversation list (``GET /api/v1/conversations?q=``), on both backends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.engine import make_url

from hub.crm_link.erasure import compact_sqlite
from hub.crm_link.retention import ConversationPolicy, RetentionSettings, run_retention
from hub.db.models import Conversation, utcnow
from hub.services import Services
from tests.factories import TestUser, create_user, send_inbound, services_of

Client = TestClient[Any, Any]


async def found(client: Client, user: TestUser, q: str, **params: str) -> set[int]:
    resp = await client.get("/api/v1/conversations", headers=user.headers, params={"q": q, **params})
    assert resp.status == 200, (q, await resp.text())
    return {c["id"] for c in (await resp.json())["items"]}


def sqlite_bytes(services: Services) -> bytes:
    """The SQLite database file and its WAL, lower-cased (b"" on PostgreSQL)."""
    url = make_url(services.settings.database_url)
    if url.get_backend_name() != "sqlite":
        return b""
    assert url.database
    files = [Path(url.database + suffix) for suffix in ("", "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists()).lower()


async def test_german_words_by_their_umlauts_prefixes_and_phrases(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    munich = (await send_inbound(client, text="Viele Grüße aus München, Ihre Frau Müller"))["conversation_id"]
    other = (await send_inbound(client, text="Grüße aus Köln", subject="Rücksendung"))["conversation_id"]

    for q in ("München", "munchen", "MÜNCHEN", "Muller", "müller"):
        assert await found(client, admin, q) == {munich}, q
    assert await found(client, admin, "GRÜẞE") == await found(client, admin, "grüße") == {munich, other}
    assert await found(client, admin, "rucksendung") == {other}  # the subject, without its umlaut
    # As typed: the last word is the beginning of a word from its third letter on.
    assert await found(client, admin, "Münc") == {munich}
    assert await found(client, admin, "aus Mün") == {munich}
    assert await found(client, admin, "Mü") == set()  # too short to be a prefix
    assert await found(client, admin, "Münc ") == set()  # a space ends the word
    assert await found(client, admin, "Rücks") == {other}
    # Every word in one message; a quoted phrase in this order.
    assert await found(client, admin, "grüße köln") == {other}
    assert await found(client, admin, "münchen köln") == set()
    assert await found(client, admin, '"aus München"') == {munich}
    assert await found(client, admin, '"München aus"') == set()
    assert await found(client, admin, '"grüße aus" münchen') == {munich}


async def test_notes_replies_and_later_messages_are_found_and_pages_continue(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    conversation = (await send_inbound(client, text="erste Nachricht"))["conversation_id"]
    resp = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"body": "Kundin ist Stammkundin", "private": True}, headers=admin.headers,
    )
    assert resp.status == 201, await resp.text()
    assert await found(client, admin, "stammkundin") == {conversation}
    ids = [(await send_inbound(client, text=f"Reklamation Nummer {n}"))["conversation_id"] for n in range(5)]
    seen: list[int] = []
    params = {"q": "reklamation", "limit": "2"}
    while True:
        page = await (await client.get("/api/v1/conversations", headers=admin.headers, params=params)).json()
        seen += [c["id"] for c in page["items"]]
        if page["next"] is None:
            break
        params = {**params, "cursor": page["next"]}
    assert seen == ids[::-1]


async def test_an_agent_finds_nothing_outside_their_queues(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    supervisor = await create_user(services, role="supervisor")
    mine = (await send_inbound(client, "web-form", text="Passwort vergessen", subject="Geheimprojekt"))["conversation_id"]
    theirs = (await send_inbound(client, "shop", text="Passwort vergessen", subject="Geheimprojekt"))["conversation_id"]
    assert await found(client, supervisor, "passwort") == {mine, theirs}
    for q in ("passwort", "Geheimprojekt", "Passw", '"passwort vergessen"'):
        assert await found(client, agent, q) == {mine}, q
    # Assigned to the agent, a conversation of another queue is theirs to find.
    async with services.sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == theirs).values(assignee_id=agent.id))
    assert await found(client, agent, "passwort") == {mine, theirs}
    assert await found(client, agent, "passwort", queue="billing") == {theirs}


ODD_INPUTS = (
    '"', '""', '"""', '"offen', 'a"b', "*", "a*", "*a", "Rech*", "NEAR(a b)", "NEAR(a b, 2)", "a NEAR b",
    "-a", "a -b", "a:b", "text:a", "subject:x", "{text}:a", "^a", "a + b", "(", ")", "(a OR b)", "AND", "OR",
    "NOT", "a AND NOT b", "'", "''", "it's", "\\", "\\'", "a\\", ":*", "'a':*", "a:*", "a & b", "a | b", "!a",
    "a <-> b", "<2>", "%", "_", "%_%", "a%b", "🙂", "🙂 Grüße", "ß", "·", "@", "kunde@example.test", "+49 171",
    "\t", "x" * 200, "a " * 100, "\u200b", "\ufeffa", "ǅ", "İ", "ﬀ", "１２３",
)


async def test_odd_characters_never_fail(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    conversation = (await send_inbound(client, text="Rechnung für kunde@example.test, it's 100% ok: a b"))[
        "conversation_id"
    ]
    for q in ODD_INPUTS:
        await found(client, admin, q)  # 200, whatever the result
    assert await found(client, admin, "kunde@example.test") == {conversation}
    assert await found(client, admin, "it's") == {conversation}
    assert await found(client, admin, "Rech*") == {conversation}  # the star is no operator: "Rech" as typed
    assert await found(client, admin, "a:b") == {conversation}  # no column filter: the words a and b
    resp = await client.get("/api/v1/conversations", headers=admin.headers, params={"q": "a\u0000b"})
    assert resp.status == 200 and (await resp.json())["items"] == []
    resp = await client.get("/api/v1/conversations", headers=admin.headers, params={"q": "x" * 201})
    assert resp.status == 400 and resp.content_type == "application/problem+json"


async def test_erased_and_retained_texts_are_not_found_nor_left_in_the_index(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    # Words that share their first letters with no other word, so the index stores them whole
    # (FTS5 writes a term as the prefix it shares with the previous term plus the rest).
    erased = await send_inbound(client, text="Mein Kennwort ist Qüxzylberwort", subject="Zwörgelmann",
                                sender={"email": "erase@example.test"})
    retained = await send_inbound(client, text="Alte Bestellung Jöquavirn", sender={"email": "old@example.test"})
    kept = await send_inbound(client, text="Anderer Kunde Vühtrexmal", sender={"email": "keep@example.test"})
    stored = sqlite_bytes(services)
    if services.dialect == "sqlite":  # the index holds the words without umlauts: the check can see them
        assert all(w in stored for w in (b"quxzylberwort", b"zworgelmann", b"joquavirn", b"vuhtrexmal"))

    contact_id = (await (await client.get(
        f"/api/v1/conversations/{erased['conversation_id']}", headers=admin.headers
    )).json())["contact"]["id"]
    resp = await client.post(f"/api/v1/contacts/{contact_id}/erasure", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id == retained["conversation_id"])
            .values(status="resolved", resolved_at=utcnow() - timedelta(days=3))
        )
    policy = RetentionSettings(conversations=(ConversationPolicy("all-2-days", 2),))
    report = await run_retention(services, policy, dry_run=False)
    assert report.conversations == {"all-2-days": [retained["conversation_id"]]}
    await compact_sqlite(services)  # retention leaves the WAL to the next checkpoint: take it now

    assert await found(client, admin, "Qüxzylberwort") == set()
    assert await found(client, admin, "Zwörgelmann") == set()
    assert await found(client, admin, "Jöquavirn") == set()
    assert await found(client, admin, "Vühtrexmal") == {kept["conversation_id"]}
    stored = sqlite_bytes(services)
    for word in (b"quxzylberwort", b"zworgelmann", b"joquavirn"):
        assert word not in stored, word
    if services.dialect == "sqlite":
        assert b"vuhtrexmal" in stored
