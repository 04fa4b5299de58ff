"""The web UI's pages over HTTP: redirects, login, security headers, language, email HTML frames."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from hub.api.keys import SERVICES
from hub.api.ui_i18n import CATALOG_DIR, LANGUAGES, WEB_DIR, Translator, catalog, negotiate
from hub.api.ui_shell import safe_next
from hub.auth import accounts
from hub.db.models import Message
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]
PASSWORD = "correct horse battery"


async def signed_in(client: Client, *, role: str = "agent", name: str = "Anna", locale: str | None = None) -> str:
    """Log a new user in on ``client`` (the cookie jar keeps the session); returns the CSRF token."""
    email = f"{role}-{name.lower().replace(' ', '')}-{id(client)}@example.test"
    await accounts.create_user(
        client.app[SERVICES], email=email, name=name, role=role, password=PASSWORD,
        queues=["support"], skills={}, actor_id=None, locale=locale,
    )
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["csrf_token"])


async def test_the_start_page_leads_to_the_login_and_then_to_the_inbox(client: Client) -> None:
    resp = await client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/login")
    await signed_in(client)
    resp = await client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/inbox")
    resp = await client.get("/login", allow_redirects=False)
    assert resp.headers["Location"] == "/inbox"


async def test_pages_need_a_session_and_come_back_after_login(client: Client) -> None:
    resp = await client.get("/inbox/42", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/login?next=/inbox/42"
    resp = await client.get("/login?next=/inbox/42")
    assert 'data-next="/inbox/42"' in await resp.text()


async def test_a_bearer_token_opens_no_ui_page(client: Client) -> None:
    agent = await create_user(services_of(client), queues=["support"])
    resp = await client.get("/inbox", headers=agent.headers, allow_redirects=False)
    assert resp.status == 302


def test_after_login_only_local_paths_are_followed() -> None:
    assert safe_next("/inbox/7?x=1") == "/inbox/7?x=1"
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None, "javascript:alert(1)"):
        assert safe_next(hostile) == "/inbox"


@pytest.mark.parametrize("path", ["/login", "/inbox", "/contacts/1"])
async def test_every_page_has_a_strict_csp_and_no_inline_code(client: Client, path: str) -> None:
    if path != "/login":
        await signed_in(client)
    resp = await client.get(path)
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = await resp.text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


async def test_the_users_name_is_escaped_in_the_shell(client: Client) -> None:
    await signed_in(client, name="<img src=x onerror=alert(1)>")
    html = await (await client.get("/inbox")).text()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_the_page_carries_the_sessions_csrf_token_and_the_context(client: Client) -> None:
    csrf = await signed_in(client, role="supervisor", name="Sven")
    html = await (await client.get("/inbox/5")).text()
    assert f'<meta name="csrf-token" content="{csrf}">' in html
    match = re.search(r'<script type="application/json" id="hub-context">(.*?)</script>', html)
    assert match is not None
    context = json.loads(match.group(1))
    assert context["user"]["name"] == "Sven" and context["user"]["role"] == "supervisor"
    assert context["opened"] == 5 and "web-form" in context["channels"]
    assert context["channel_info"]["web-form"] == {
        "media": "messaging", "can_send": False, "attachments": True, "max_text_length": 100_000,
    }  # no callback URL configured: notes only
    assert 'href="/wall"' in html and 'href="/admin"' not in html


async def test_agents_see_no_wall_or_admin_links(client: Client) -> None:
    await signed_in(client)
    html = await (await client.get("/inbox")).text()
    assert 'href="/wall"' not in html and 'href="/admin"' not in html


async def test_the_browser_language_picks_german(client: Client) -> None:
    resp = await client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert resp.headers["Content-Language"] == "de"
    assert "Passwort" in await resp.text()


async def test_a_language_chosen_on_the_login_page_is_remembered(client: Client) -> None:
    resp = await client.get("/login?lang=de", headers={"Accept-Language": "en"})
    assert resp.headers["Content-Language"] == "de"
    resp = await client.get("/login", headers={"Accept-Language": "en"})
    assert resp.headers["Content-Language"] == "de"


async def test_the_users_setting_beats_the_browser_and_is_changed_with_csrf(client: Client) -> None:
    csrf = await signed_in(client, locale="de")
    resp = await client.get("/inbox", headers={"Accept-Language": "en"})
    assert resp.headers["Content-Language"] == "de" and "Posteingang" in await resp.text()

    resp = await client.patch("/api/v1/me", json={"locale": "en"})
    assert resp.status == 403  # the cookie alone may not change anything
    resp = await client.patch("/api/v1/me", json={"locale": "fr"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 422
    resp = await client.patch("/api/v1/me", json={"locale": "en"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["locale"] == "en"
    resp = await client.get("/inbox", headers={"Accept-Language": "de"})
    assert resp.headers["Content-Language"] == "en"

    resp = await client.patch("/api/v1/me", json={"locale": None}, headers={"X-CSRF-Token": csrf})
    assert (await resp.json())["locale"] is None
    resp = await client.get("/inbox", headers={"Accept-Language": "de"})
    assert resp.headers["Content-Language"] == "de"


def test_language_negotiation() -> None:
    assert negotiate(None) == "en"
    assert negotiate("fr, de-AT;q=0.8") == "de"
    assert negotiate("en;q=0.9, de;q=0.4") == "en"
    assert negotiate("de;q=abc") == "en"
    assert negotiate("en", "de_DE") == "de"
    assert negotiate("de", "fr") == "de"


def test_translator_fills_placeholders_and_falls_back() -> None:
    t = Translator("de")
    assert t("login.limited", seconds=30) == "Zu viele Versuche. Bitte in 30 Sekunden erneut versuchen."
    assert t("login.limited") .count("{seconds}") == 1
    assert t("no.such.key") == "no.such.key"


def test_every_language_has_every_key() -> None:
    keys = {lang: set(catalog(lang)) for lang in LANGUAGES}
    assert all(found == keys["en"] for found in keys.values())
    assert sorted(p.stem for p in CATALOG_DIR.glob("*.json")) == sorted(LANGUAGES)


def test_every_key_the_templates_and_scripts_use_is_in_the_catalog() -> None:
    known = set(catalog("en"))
    used: set[str] = set()
    for path in (WEB_DIR / "templates" / "app").rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", path.read_text()))
    for path in (WEB_DIR / "static" / "js").rglob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", path.read_text()))
    assert used, "the pattern found nothing"
    assert used - known == set()


async def test_colleagues_are_listed_by_name_without_email(client: Client) -> None:
    agent = await create_user(services_of(client), queues=["support"], name="Zora")
    await create_user(services_of(client), name="Albert", active=False)
    resp = await client.get("/api/v1/colleagues", headers=agent.headers)
    items = (await resp.json())["items"]
    assert [c["name"] for c in items] == ["Zora"]
    assert set(items[0]) == {"id", "name", "role"}


async def test_email_html_is_served_as_a_sandboxed_document_to_who_may_see_it(client: Client) -> None:
    services = services_of(client)
    accepted = await send_inbound(client, text="Hallo", html="<p>Hallo <b>Welt</b></p>")
    async with services.sessions() as session:
        message_id = await session.scalar(select(Message.id).where(Message.conversation_id == accepted["conversation_id"]))
    assert message_id is not None
    resp = await client.get(f"/ui/messages/{message_id}/html")
    assert resp.status == 404  # nobody signed in
    await signed_in(client)
    resp = await client.get(f"/ui/messages/{message_id}/html")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert "<b>Welt</b>" in await resp.text()


async def test_email_html_of_another_queue_reads_as_404(client: Client) -> None:
    services = services_of(client)
    accepted = await send_inbound(client, text="Hallo", html="<p>Hallo</p>")
    async with services.sessions() as session, session.begin():
        message_id = await session.scalar(select(Message.id).where(Message.conversation_id == accepted["conversation_id"]))
        await session.execute(update(Message).where(Message.id == message_id).values(html="<p>x</p>"))
    email = "outsider@example.test"
    await accounts.create_user(
        services, email=email, name="Out", role="agent", password=PASSWORD, queues=[], skills={}, actor_id=None
    )
    await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert (await client.get(f"/ui/messages/{message_id}/html")).status == 404


def test_static_files_exist_for_every_script_the_templates_load() -> None:
    for path in (WEB_DIR / "templates" / "app").rglob("*.html"):
        for src in re.findall(r'src="/static/([^"]+)"', path.read_text()):
            assert (WEB_DIR / "static" / src).is_file(), f"{path.name} loads missing {src}"
