"""Auth over HTTP: login cookie and CSRF, rate limit, tokens, roles, users and the audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from hub.api.app import create_app
from hub.api.auth import LOGIN_LIMIT
from hub.api.keys import SERVICES
from hub.auth import accounts
from hub.auth.ratelimit import LoginRateLimit, RedisCounters
from hub.auth.token_cache import TOKENS
from hub.auth.tokens import digest
from hub.bootstrap import build_services
from hub.bus import InProcessBus
from hub.db.models import ApiToken, AuditEntry, User, WebSession, utcnow
from tests.conftest import make_settings
from tests.services import REDIS_URL

Client = TestClient[Any, Any]
PASSWORD = "correct horse battery"


async def add_user(client: Client, email: str, role: str = "agent", **extra: Any) -> int:
    values: dict[str, Any] = {"password": PASSWORD, "queues": ["support"], "skills": {}, "actor_id": None}
    values.update(extra)
    return await accounts.create_user(client.app[SERVICES], email=email, name=email.split("@")[0], role=role, **values)


async def bearer(client: Client, email: str, role: str = "agent") -> dict[str, str]:
    user_id = await add_user(client, email, role, password=None)
    _, token = await accounts.create_token(client.app[SERVICES], user_id=user_id, name="test", actor_id=None)
    return {"Authorization": f"Bearer {token}"}


async def log_in(client: Client, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_login_sets_a_hardened_cookie_and_returns_user_and_csrf_token(client: Client) -> None:
    user_id = await add_user(client, "Agent@Example.com", locale="de")
    resp = await log_in(client, "agent@example.com")
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["user"] == {
        "id": user_id,
        "email": "agent@example.com",
        "name": "Agent",
        "role": "agent",
        "queues": ["support"],
        "skills": {},
        "locale": "de",
        "active": True,
        "created_at": data["user"]["created_at"],
    }
    assert data["csrf_token"]
    assert resp.headers["Cache-Control"] == "no-store"
    cookie = resp.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("hub_session=")
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "secure" not in attributes  # plain-HTTP public_url
    session_id = resp.cookies["hub_session"].value
    async with client.app[SERVICES].sessions() as session:
        assert await session.get(WebSession, digest(session_id)) is not None

    me = await client.get("/api/v1/me")  # the cookie jar sends the cookie
    assert me.status == 200
    assert (await me.json())["email"] == "agent@example.com"


async def test_the_cookie_is_secure_when_the_hub_is_served_over_https(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(database_url, tmp_path / "data", public_url="https://hub.example.com")
    async with TestClient(TestServer(create_app(settings))) as client:
        await add_user(client, "agent@example.com")
        resp = await log_in(client, "agent@example.com")
        assert resp.status == 200
        assert "secure" in {part.strip().lower() for part in resp.headers["Set-Cookie"].split(";")}


async def test_wrong_password_unknown_email_and_inactive_user_answer_identically(client: Client) -> None:
    await add_user(client, "agent@example.com")
    await add_user(client, "gone@example.com")
    async with client.app[SERVICES].transaction() as unit:
        await unit.session.execute(update(User).where(User.email == "gone@example.com").values(active=False))
    answers = []
    for email, password in [
        ("agent@example.com", "not the password"),
        ("nobody@example.com", PASSWORD),
        ("gone@example.com", PASSWORD),
    ]:
        resp = await log_in(client, email, password)
        answers.append((resp.status, await resp.json(), "Set-Cookie" in resp.headers))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401 and answers[0][2] is False


async def test_malformed_login_bodies_are_rejected(client: Client) -> None:
    resp = await client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x", "remember": True})
    assert resp.status == 422
    resp = await client.post("/api/v1/auth/login", data=b"{", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/api/v1/auth/login", json={"email": "a\u0000@example.com", "password": "x"})
    assert resp.status == 401  # a NUL can name no user; the database is never asked


async def test_the_login_rate_limit_answers_429_with_retry_after(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(database_url, tmp_path / "data", login_max_failures=3, login_window_seconds=600)
    async with TestClient(TestServer(create_app(settings))) as client:
        await add_user(client, "agent@example.com")
        for _ in range(3):
            assert (await log_in(client, "agent@example.com", "wrong password")).status == 401
        resp = await log_in(client, "agent@example.com")  # even the right password waits now
        assert resp.status == 429
        retry_after = int(resp.headers["Retry-After"])
        assert 0 < retry_after <= 600
        body = await resp.json()
        assert body["status"] == 429 and body["retry_after"] == retry_after
        assert resp.content_type == "application/problem+json"


async def test_a_success_resets_the_email_counter_but_the_address_keeps_its_failures(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(database_url, tmp_path / "data", login_max_failures=3)
    async with TestClient(TestServer(create_app(settings))) as client:
        await add_user(client, "agent@example.com")
        assert (await log_in(client, "agent@example.com", "wrong password")).status == 401
        assert (await log_in(client, "agent@example.com", "wrong password")).status == 401
        assert (await log_in(client, "agent@example.com")).status == 200
        # the email starts afresh; the address has 3 failures now, the limit
        assert (await log_in(client, "agent@example.com", "wrong password")).status == 401
        assert (await log_in(client, "agent@example.com")).status == 429


async def test_with_redis_two_hub_processes_share_the_login_rate_limit(
    tmp_path: Path, database_url: str, redis_prefix: str
) -> None:
    settings = make_settings(database_url, tmp_path / "data", redis_url=REDIS_URL, login_max_failures=2)
    apps = []
    for _ in range(2):
        app = create_app(settings, services=build_services(settings, bus=InProcessBus()))
        app[LOGIN_LIMIT] = LoginRateLimit(RedisCounters(REDIS_URL, prefix=redis_prefix), max_failures=2, window_seconds=60)
        apps.append(app)
    async with TestClient(TestServer(apps[0])) as first, TestClient(TestServer(apps[1])) as second:
        await add_user(first, "agent@example.com")
        assert (await log_in(first, "agent@example.com", "wrong password")).status == 401
        assert (await log_in(second, "agent@example.com", "wrong password")).status == 401
        resp = await log_in(first, "agent@example.com")
        assert resp.status == 429
        assert 0 < int(resp.headers["Retry-After"]) <= 60


async def test_logout_needs_the_csrf_token_then_ends_the_session(client: Client) -> None:
    await add_user(client, "agent@example.com")
    login = await (await log_in(client, "agent@example.com")).json()
    assert (await client.post("/api/v1/auth/logout")).status == 403
    resp = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login["csrf_token"]})
    assert resp.status == 204
    assert "hub_session=" in resp.headers["Set-Cookie"] and "Max-Age=0" in resp.headers["Set-Cookie"]
    async with client.app[SERVICES].sessions() as session:
        assert (await session.scalars(select(WebSession))).all() == []
    assert (await client.get("/api/v1/me")).status == 401


async def test_cookie_writes_need_the_sessions_csrf_token_and_bearer_writes_need_none(client: Client) -> None:
    await add_user(client, "agent@example.com")
    login = await (await log_in(client, "agent@example.com")).json()
    assert (await client.post("/api/v1/tokens", json={"name": "a"})).status == 403
    wrong = {"X-CSRF-Token": "not-" + login["csrf_token"]}
    assert (await client.post("/api/v1/tokens", json={"name": "a"}, headers=wrong)).status == 403
    right = {"X-CSRF-Token": login["csrf_token"]}
    resp = await client.post("/api/v1/tokens", json={"name": "a"}, headers=right)
    assert resp.status == 201
    token = (await resp.json())["token"]
    client.session.cookie_jar.clear()
    resp = await client.post("/api/v1/tokens", json={"name": "b"}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 201


async def test_a_token_works_until_revoked_and_is_never_shown_again(client: Client) -> None:
    auth = await bearer(client, "agent@example.com")
    resp = await client.post("/api/v1/tokens", json={"name": "deploy"}, headers=auth)
    assert resp.status == 201
    created = await resp.json()
    token = created["token"]
    mine = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/v1/me", headers=mine)
    assert me.status == 200 and (await me.json())["email"] == "agent@example.com"

    listing = await client.get("/api/v1/tokens", headers=mine)
    text = await listing.text()
    assert token not in text
    names = [t["name"] for t in (await listing.json())["items"]]
    assert names == ["deploy", "test"]
    async with client.app[SERVICES].sessions() as session:
        stored = await session.get(ApiToken, created["id"])
        assert stored is not None and stored.token_hash == digest(token) and stored.last_used_at is not None
        audit = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert "token.created" in audit

    assert (await client.delete(f"/api/v1/tokens/{created['id']}", headers=auth)).status == 204
    assert (await client.get("/api/v1/me", headers=mine)).status == 401


async def test_another_agents_token_cannot_be_revoked_but_an_admin_can(client: Client) -> None:
    owner = await bearer(client, "owner@example.com")
    other = await bearer(client, "other@example.com")
    admin = await bearer(client, "admin@example.com", "admin")
    token_id = (await (await client.post("/api/v1/tokens", json={"name": "x"}, headers=owner)).json())["id"]
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=other)).status == 404
    assert (await client.delete("/api/v1/tokens/999999", headers=owner)).status == 404
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=admin)).status == 204


async def test_token_use_is_recorded_at_most_once_a_minute(client: Client) -> None:
    auth = await bearer(client, "agent@example.com")
    assert (await client.get("/api/v1/me", headers=auth)).status == 200
    recent = utcnow() - timedelta(seconds=30)
    async with client.app[SERVICES].transaction() as unit:
        await unit.session.execute(update(ApiToken).values(last_used_at=recent))
    TOKENS.invalidate()  # a change made directly in the database is seen once the token cache lets go
    assert (await client.get("/api/v1/me", headers=auth)).status == 200
    async with client.app[SERVICES].sessions() as session:
        assert await session.scalar(select(ApiToken.last_used_at)) == recent
    stale = utcnow() - timedelta(minutes=5)
    async with client.app[SERVICES].transaction() as unit:
        await unit.session.execute(update(ApiToken).values(last_used_at=stale))
    TOKENS.invalidate()
    assert (await client.get("/api/v1/me", headers=auth)).status == 200
    async with client.app[SERVICES].sessions() as session:
        used = await session.scalar(select(ApiToken.last_used_at))
    assert used is not None and used > stale + timedelta(minutes=4)


async def test_agents_can_neither_list_users_nor_read_the_audit_log(client: Client) -> None:
    agent = await bearer(client, "agent@example.com")
    assert (await client.get("/api/v1/users", headers=agent)).status == 403
    assert (await client.get("/api/v1/audit", headers=agent)).status == 403
    new = {"email": "x@example.com", "name": "X", "role": "admin"}
    assert (await client.post("/api/v1/users", json=new, headers=agent)).status == 403
    supervisor = await bearer(client, "boss@example.com", "supervisor")
    resp = await client.get("/api/v1/users", headers=supervisor)
    assert resp.status == 200
    assert [u["email"] for u in (await resp.json())["items"]] == ["agent@example.com", "boss@example.com"]
    assert (await client.get("/api/v1/audit", headers=supervisor)).status == 403
    assert (await client.post("/api/v1/users", json=new, headers=supervisor)).status == 403
    assert (await client.get("/api/v1/users")).status == 401


async def test_an_admin_creates_a_user_and_the_audit_log_says_who(client: Client) -> None:
    admin = await bearer(client, "admin@example.com", "admin")
    body = {
        "email": "New.Agent@Example.com",
        "name": "New Agent",
        "role": "agent",
        "password": "a long enough password",
        "queues": ["billing", "support"],
        "skills": {"german": 4},
    }
    resp = await client.post("/api/v1/users", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["email"] == "new.agent@example.com"
    assert created["queues"] == ["billing", "support"] and created["skills"] == {"german": 4}
    assert (await client.post("/api/v1/users", json=body, headers=admin)).status == 409
    assert (await client.post("/api/v1/users", json=body | {"email": "b@example.com", "queues": ["nope"]}, headers=admin)).status == 422
    assert (await client.post("/api/v1/users", json=body | {"email": "c@example.com", "admin": True}, headers=admin)).status == 422
    for bad in ({"name": "N\u0000"}, {"queues": ["sup\u0000port"]}, {"skills": {"ger\u0000man": 1}}, {"email": "d\u0000@example.com"}):
        assert (await client.post("/api/v1/users", json=body | {"email": "d@example.com"} | bad, headers=admin)).status == 422

    audit = await client.get("/api/v1/audit", headers=admin)
    assert audit.status == 200
    newest = (await audit.json())["items"][0]
    admin_id = (await (await client.get("/api/v1/me", headers=admin)).json())["id"]
    assert newest["action"] == "user.created" and newest["object_id"] == str(created["id"])
    assert newest["actor_id"] == admin_id
    assert "a long enough password" not in await audit.text()
    assert (await log_in(client, "new.agent@example.com", "a long enough password")).status == 200


async def test_the_audit_log_pages_newest_first_with_an_opaque_cursor(client: Client) -> None:
    admin = await bearer(client, "admin@example.com", "admin")  # user and token: 2 entries
    for n in range(4):
        await add_user(client, f"agent{n}@example.com", password=None)  # 4 more
    seen: list[int] = []
    url = "/api/v1/audit?limit=2"
    pages = 0
    while True:
        resp = await client.get(url, headers=admin)
        assert resp.status == 200
        page = await resp.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        url = f"/api/v1/audit?limit=2&cursor={page['next']}"
    async with client.app[SERVICES].sessions() as session:
        stored = (await session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc()))).all()
    assert pages == 3 and seen == list(stored) and len(seen) == 6
    assert (await client.get("/api/v1/audit?limit=0", headers=admin)).status == 400
    assert (await client.get("/api/v1/audit?limit=201", headers=admin)).status == 400
    assert (await client.get("/api/v1/audit?cursor=forged.cursor", headers=admin)).status == 400
    users = await (await client.get("/api/v1/users?limit=2", headers=admin)).json()
    assert (await client.get(f"/api/v1/audit?cursor={users['next']}", headers=admin)).status == 400
