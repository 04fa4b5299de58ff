"""Admins keep staff accounts current: role, name, language, queues, skills, deactivation — audited."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.db.models import AuditEntry, EventRecord
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


async def test_an_admin_changes_a_user_and_the_change_is_audited(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    colleague = await create_user(services, role="agent", queues=["support"])
    url = f"/api/v1/users/{agent.id}"

    patch = {"role": "supervisor", "name": "Anna Neu", "locale": "de", "queues": ["billing", "support"],
             "skills": {"german": 5, "billing": 2}}
    assert (await client.patch(url, json=patch, headers=supervisor.headers)).status == 403
    assert (await client.patch(url, json=patch, headers=agent.headers)).status == 403
    resp = await client.patch(url, json=patch, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    user = await resp.json()
    assert (user["role"], user["name"], user["locale"]) == ("supervisor", "Anna Neu", "de")
    assert user["queues"] == ["billing", "support"] and user["skills"] == {"billing": 2, "german": 5}
    assert (await (await client.get(url, headers=supervisor.headers)).json())["name"] == "Anna Neu"
    assert (await client.get(url, headers=colleague.headers)).status == 403

    # Changing nothing records nothing; null clears the language.
    assert (await client.patch(url, json={"name": "Anna Neu"}, headers=admin.headers)).status == 200
    resp = await client.patch(url, json={"locale": None}, headers=admin.headers)
    assert (await resp.json())["locale"] is None
    async with services.sessions() as session:
        audit = (await session.execute(
            select(AuditEntry.action, AuditEntry.actor_user_id, AuditEntry.data)
            .where(AuditEntry.object_type == "user", AuditEntry.object_id == str(agent.id)).order_by(AuditEntry.id)
        )).all()
        updated = (await session.scalars(
            select(EventRecord.data).where(EventRecord.type == "agent.updated", EventRecord.user_id == agent.id)
        )).all()
    assert [(a, actor) for a, actor, _ in audit] == [("user.updated", admin.id), ("user.updated", admin.id)]
    assert audit[0][2]["fields"] == ["name", "role", "locale", "queues", "skills"]
    assert audit[0][2]["previous_role"] == "agent" and audit[1][2]["fields"] == ["locale"]
    assert len(updated) == 2  # routing re-reads the agent


async def test_a_deactivated_user_is_locked_out_at_once(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"])
    assert (await client.get("/api/v1/me", headers=agent.headers)).status == 200
    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"active": False}, headers=admin.headers)
    assert resp.status == 200 and (await resp.json())["active"] is False
    assert (await client.get("/api/v1/me", headers=agent.headers)).status == 401
    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"active": True}, headers=admin.headers)
    assert (await client.get("/api/v1/me", headers=agent.headers)).status == 200


async def test_bad_user_changes_are_refused_and_change_nothing(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", queues=["support"], name="Unverändert")
    url = f"/api/v1/users/{agent.id}"
    for body in (
        {"role": "boss"}, {"name": ""}, {"name": "  "}, {"queues": ["nowhere"]}, {"skills": {"german": 0}},
        {"skills": {"german": 101}}, {"skills": {" german": 1}}, {"locale": "x"}, {"locale": "de;drop"},
        {"password": "short"}, {"email": "new@example.test"}, {"active": "no"},
        {"name": "Neu", "queues": ["support", "nowhere"]},
    ):
        resp = await client.patch(url, json=body, headers=admin.headers)
        assert resp.status == 422, (body, await resp.text())
    resp = await client.patch(url, data=b"{nope", headers={**admin.headers, "Content-Type": "application/json"})
    assert resp.status == 400
    user = await (await client.get(url, headers=admin.headers)).json()
    assert (user["name"], user["queues"], user["role"]) == ("Unverändert", ["support"], "agent")
    assert (await client.patch("/api/v1/users/999999", json={"name": "x"}, headers=admin.headers)).status == 404
    # An admin cannot lock themselves out.
    for body in ({"active": False}, {"role": "agent"}):
        resp = await client.patch(f"/api/v1/users/{admin.id}", json=body, headers=admin.headers)
        assert resp.status == 409, await resp.text()
    assert (await client.patch(f"/api/v1/users/{admin.id}", json={"name": "Ich"}, headers=admin.headers)).status == 200
    async with services.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "user.updated"))).all()
    assert actions == [str(admin.id)]


async def test_an_admin_sets_a_password_and_the_user_logs_in_with_it(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    agent = await create_user(services, role="agent", email="pw@example.test")
    resp = await client.patch(f"/api/v1/users/{agent.id}", json={"password": "ein langes Passwort"},
                              headers=admin.headers)
    assert resp.status == 200, await resp.text()
    login = await client.post("/api/v1/auth/login", json={"email": "pw@example.test", "password": "ein langes Passwort"})
    assert login.status == 200
