"""Canned responses: admins write them (audited), agents find and render them for their conversations."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from hub.db.models import AuditEntry, CannedResponse, User
from tests.factories import TestUser, create_user, send_inbound, services_of

Client = TestClient[Any, Any]
URL = "/api/v1/canned-responses"

GREETING = {
    "shortcut": "hallo",
    "title": "Begrüßung",
    "bodies": {
        "de": "Hallo {{ contact.name or 'und guten Tag' }}, hier ist {{ agent.name }} (Fall #{{ conversation.id }}).",
        "en": "Hello {{ contact.name }}, this is {{ agent.name }} (case #{{ conversation.id }}).",
    },
}


async def create(client: Client, admin: TestUser, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(URL, json=body, headers=admin.headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def audit_actions(client: Client) -> list[tuple[str, str | None]]:
    async with services_of(client).sessions() as session:
        rows = (await session.execute(
            select(AuditEntry.action, AuditEntry.object_id).where(AuditEntry.object_type == "canned_response")
            .order_by(AuditEntry.id)
        )).all()
    return [(a, o) for a, o in rows]


async def test_admins_write_canned_responses_and_every_change_is_audited(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])

    assert (await client.post(URL, json=GREETING, headers=agent.headers)).status == 403
    assert (await client.post(URL, json=GREETING, headers=supervisor.headers)).status == 403
    created = await create(client, admin, GREETING)
    assert created["shortcut"] == "hallo" and created["languages"] == ["de", "en"] and created["queue"] is None
    assert created["format"] == "text" and created["created_by"] == admin.id
    assert (await client.post(URL, json=GREETING, headers=admin.headers)).status == 409

    changed = {**GREETING, "title": "Gruß", "queue": "support", "bodies": {"de": "Moin {{ contact.name }}"}}
    url = f"{URL}/{created['id']}"
    assert (await client.put(url, json=changed, headers=agent.headers)).status == 403
    resp = await client.put(url, json=changed, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    updated = await resp.json()
    assert (updated["title"], updated["queue"], updated["languages"]) == ("Gruß", "support", ["de"])
    assert (await client.get(url, headers=agent.headers)).status == 200

    assert (await client.delete(url, headers=agent.headers)).status == 403
    assert (await client.delete(url, headers=admin.headers)).status == 204
    assert (await client.get(url, headers=admin.headers)).status == 404
    assert (await client.delete(url, headers=admin.headers)).status == 404
    assert (await client.put(url, json=changed, headers=admin.headers)).status == 404
    key = str(created["id"])
    assert await audit_actions(client) == [
        ("canned_response.created", key), ("canned_response.updated", key), ("canned_response.deleted", key),
    ]


async def test_bad_canned_responses_are_refused_and_nothing_is_stored(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        ({**GREETING, "bodies": {"de": "Hallo {{ contact.name "}}, "does not compile"),
        ({**GREETING, "bodies": {"fr": "Bonjour"}}, "bodies"),
        ({**GREETING, "bodies": {}}, "at least one language"),
        ({**GREETING, "bodies": {"de": "   "}}, "blank"),
        ({**GREETING, "bodies": {"de": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"}}, "macro"),
        ({**GREETING, "bodies": {"de": "{% for a in range(9) %}{% for b in range(9) %}{% endfor %}{% endfor %}"}},
         "nest"),
        ({**GREETING, "bodies": {"de": "x" * 10_001}}, "10000"),
        ({**GREETING, "shortcut": "Mit Leerzeichen"}, "shortcut"),
        ({**GREETING, "title": "   "}, "title"),
        ({**GREETING, "queue": "nowhere"}, "nowhere"),
        ({**GREETING, "format": "markdown"}, "format"),
        ({**GREETING, "extra": 1}, "extra"),
        ({"shortcut": "x", "title": "t"}, "bodies"),
    ]
    for body, detail in bad_bodies:
        resp = await client.post(URL, json=body, headers=admin.headers)
        assert resp.status == 422, (body, await resp.text())
        assert resp.content_type == "application/problem+json"
        assert detail in (await resp.json())["detail"], (body, await resp.text())
    resp = await client.post(URL, data=b"{not json", headers={**admin.headers, "Content-Type": "application/json"})
    assert resp.status == 400
    async with services_of(client).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CannedResponse)) == 0
    assert await audit_actions(client) == []


async def test_agents_find_the_global_ones_and_those_of_their_queues(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    support_agent = await create_user(services, role="agent", queues=["support"])
    supervisor = await create_user(services, role="supervisor")
    everyone = await create(client, admin, {**GREETING, "shortcut": "gruss", "title": "Allgemeiner Gruß"})
    support = await create(client, admin, {**GREETING, "shortcut": "reset", "title": "Passwort zurücksetzen",
                                           "queue": "support"})
    billing = await create(client, admin, {**GREETING, "shortcut": "refund", "title": "Erstattung",
                                           "queue": "billing"})

    async def shortcuts(user: TestUser, **params: str) -> list[str]:
        resp = await client.get(URL, params=params, headers=user.headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["variables"]["contact"][0] == "name"
        return [item["shortcut"] for item in body["items"]]

    assert await shortcuts(support_agent) == ["gruss", "reset"]
    assert await shortcuts(supervisor) == ["gruss", "refund", "reset"]
    assert await shortcuts(support_agent, q="PASSWORT") == ["reset"]  # the title, case-insensitive
    assert await shortcuts(support_agent, q="gru") == ["gruss"]
    assert await shortcuts(support_agent, q="100%") == []
    assert await shortcuts(supervisor, queue="billing") == ["gruss", "refund"]
    assert await shortcuts(supervisor, queue="nowhere") == ["gruss"]
    # Another queue's response reads as missing, for reads and renders alike.
    assert (await client.get(f"{URL}/{billing['id']}", headers=support_agent.headers)).status == 404
    assert (await client.get(f"{URL}/{support['id']}", headers=support_agent.headers)).status == 200
    assert (await client.get(f"{URL}/{everyone['id']}", headers=support_agent.headers)).status == 200

    first = await (await client.get(URL, params={"limit": "2"}, headers=supervisor.headers)).json()
    assert [i["shortcut"] for i in first["items"]] == ["gruss", "refund"] and first["next"]
    rest = await (await client.get(URL, params={"limit": "2", "cursor": first["next"]},
                                   headers=supervisor.headers)).json()
    assert [i["shortcut"] for i in rest["items"]] == ["reset"] and rest["next"] is None
    for params in ({"cursor": first["next"][:-2] + "xx"}, {"limit": "0"}, {"limit": "1", "limit2": "x", "q": "a" * 101}):
        assert (await client.get(URL, params=params, headers=supervisor.headers)).status == 400
    assert (await client.get(URL)).status == 401


async def test_an_agent_renders_a_response_for_a_conversation_they_may_see(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"], name="Anna Agent")
    outsider = await create_user(services, role="agent", queues=["billing"])
    mine = await send_inbound(client, "web-form", sender={"email": "eva@example.test", "name": "Eva Kunde"})
    theirs = await send_inbound(client, "shop", sender={"email": "max@example.test", "name": "Max"})
    canned = await create(client, admin, GREETING)
    render_url = f"{URL}/{canned['id']}/render"

    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"]}, headers=agent.headers)
    assert resp.status == 200, await resp.text()
    rendered = await resp.json()
    assert rendered["language"] == "en"  # no locale set: English
    assert rendered["text"] == f"Hello Eva Kunde, this is Anna Agent (case #{mine['conversation_id']})."
    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"]},
                             headers={**agent.headers, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert (await resp.json())["language"] == "de"  # no locale set: the browser's language

    async with services.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == agent.id).values(locale="de-DE"))
    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"]}, headers=agent.headers)
    assert (await resp.json())["text"] == f"Hallo Eva Kunde, hier ist Anna Agent (Fall #{mine['conversation_id']})."
    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"], "language": "en"},
                             headers=agent.headers)
    assert (await resp.json())["language"] == "en"
    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"]},
                             headers={**agent.headers, "Accept-Language": "en"})
    assert (await resp.json())["language"] == "de"  # the saved language wins over the browser's

    # No IDOR: a conversation of another queue, or none at all, reads the same.
    for conversation_id in (theirs["conversation_id"], 999_999):
        resp = await client.post(render_url, json={"conversation_id": conversation_id}, headers=agent.headers)
        assert resp.status == 404, await resp.text()
    resp = await client.post(render_url, json={"conversation_id": mine["conversation_id"]}, headers=outsider.headers)
    assert resp.status == 404
    for body in ({"conversation_id": 0}, {"conversation_id": "1"}, {"conversation_id": 1, "language": "fr"}, {}):
        assert (await client.post(render_url, json=body, headers=agent.headers)).status == 422
    assert (await client.post(f"{URL}/999999/render", json={"conversation_id": mine["conversation_id"]},
                              headers=agent.headers)).status == 404


async def test_rendering_problems_are_422_never_500(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    sent = await send_inbound(client, "web-form", sender={"email": "eva@example.test", "name": "Eva"})
    cases = {
        "unknown": ("Hallo {{ kunde.name }}", "canned_undefined"),
        "field": ("Hallo {{ contact.birthday }}", "canned_undefined"),
        "dunder": ("{{ contact.__class__.__mro__ }}", "canned_unsafe"),
        "mutate": ("{{ contact.update({'name': 'x'}) }}", "canned_unsafe"),
        "huge": ("{{ 'x' * 1000000 }}", "canned_unsafe"),
        "range": ("{% for i in range(100000) %}{% endfor %}", "canned_unsafe"),
        "long": ("{% for i in range(1000) %}{{ contact.email * 20 }}{% endfor %}", "canned_too_long"),
        "divide": ("{{ 1 / 0 }}", "canned_error"),
    }
    for shortcut, (source, code) in cases.items():
        canned = await create(client, admin, {"shortcut": shortcut, "title": shortcut, "bodies": {"de": source}})
        resp = await client.post(f"{URL}/{canned['id']}/render", json={"conversation_id": sent["conversation_id"]},
                                 headers=admin.headers)
        assert resp.status == 422, (shortcut, await resp.text())
        assert (await resp.json())["code"] == code, (shortcut, await resp.text())
    canned = await create(client, admin, {"shortcut": "only-de", "title": "de", "bodies": {"de": "Hallo"}})
    resp = await client.post(f"{URL}/{canned['id']}/render",
                             json={"conversation_id": sent["conversation_id"], "language": "en"}, headers=admin.headers)
    assert resp.status == 422 and (await resp.json())["code"] == "canned_language"


async def test_html_responses_escape_what_the_customer_wrote(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    sent = await send_inbound(client, "web-form",
                              sender={"email": "x@example.test", "name": "<img src=x onerror=alert(1)>Eva"})
    canned = await create(client, admin, {
        "shortcut": "html", "title": "HTML", "format": "html",
        "bodies": {"en": "<p>Dear {{ contact.name }}</p><script>alert(2)</script><b onclick='x()'>bold</b>"},
    })
    resp = await client.post(f"{URL}/{canned['id']}/render", json={"conversation_id": sent["conversation_id"]},
                             headers=admin.headers)
    text = (await resp.json())["text"]
    assert "&lt;img src=x onerror=alert(1)&gt;Eva" in text
    assert "<script" not in text and "onclick" not in text and "<b>bold</b>" in text
    plain = await create(client, admin, {"shortcut": "plain", "title": "t", "bodies": {"en": "Hi {{ contact.name }}"}})
    resp = await client.post(f"{URL}/{plain['id']}/render", json={"conversation_id": sent["conversation_id"]},
                             headers=admin.headers)
    assert (await resp.json())["text"] == "Hi <img src=x onerror=alert(1)>Eva"  # plain text: the UI escapes it


async def test_the_list_previews_each_response_as_plain_text_in_the_callers_language(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"])
    german = await create_user(services, role="agent", queues=["support"])
    async with services.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == german.id).values(locale="de-AT"))
    await create(client, admin, GREETING)
    await create(client, admin, {
        "shortcut": "rechnung", "title": "Rechnung", "format": "html",
        "bodies": {"de": "<p>Guten Tag {{ contact.name }},</p><p>anbei die <b>Rechnung</b> &amp; der Beleg."
                         "</p><script>x()</script><style>p{}</style>"},
    })
    await create(client, admin, {"shortcut": "lang", "title": "Lang", "bodies": {"en": "word " * 60}})

    async def previews(user: TestUser, **headers: str) -> dict[str, str]:
        resp = await client.get(URL, headers={**user.headers, **headers})
        assert resp.status == 200, await resp.text()
        return {item["shortcut"]: item["preview"] for item in (await resp.json())["items"]}

    seen = await previews(agent)
    assert seen["hallo"] == GREETING["bodies"]["en"]  # no saved language, no browser's: English
    assert seen["rechnung"] == "Guten Tag {{ contact.name }}, anbei die Rechnung & der Beleg."  # the only text it has
    assert len(seen["lang"]) == 120 and seen["lang"].endswith("word…")
    assert (await previews(agent, **{"Accept-Language": "de-DE,de;q=0.9"}))["hallo"] == GREETING["bodies"]["de"]
    assert (await previews(german, **{"Accept-Language": "en"}))["hallo"] == GREETING["bodies"]["de"]  # the setting wins
    one = await (await client.get(f"{URL}/{(await create(client, admin, {**GREETING, 'shortcut': 'x'}))['id']}",
                                  headers=german.headers)).json()
    assert one["preview"] == GREETING["bodies"]["de"]
