"""Account actions: users, tokens, logins; each one transaction, audited where it matters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from hub.auth import accounts
from hub.auth.audit import record_audit
from hub.auth.passwords import hash_password, needs_rehash
from hub.auth.principal import Principal, Role
from hub.auth.ratelimit import LoginRateLimit
from hub.auth.tokens import digest
from hub.db.models import ApiToken, AuditEntry, QueueMember, User, UserSkill, WebSession
from hub.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from hub.services import Services

PASSWORD = "correct horse battery"


async def make_user(services: Services, email: str = "Agent.Smith@Example.com", **overrides: Any) -> int:
    values: dict[str, Any] = {
        "email": email,
        "name": "Agent Smith",
        "role": "agent",
        "password": PASSWORD,
        "queues": ["support"],
        "skills": {"german": 3},
        "actor_id": None,
    }
    values.update(overrides)
    return await accounts.create_user(services, **values)


def principal(user_id: int, role: Role = Role.AGENT) -> Principal:
    return Principal(user_id=user_id, email="x@example.com", name="x", role=role, queue_ids=frozenset(), via="token")


async def count(services: Services, model: type) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_create_user_stores_a_lower_case_email_queues_skills_and_an_audit_entry(services: Services) -> None:
    user_id = await make_user(services, actor_id=None)
    async with services.sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None and user.email == "agent.smith@example.com"
        assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
        queues = (await session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user_id))).all()
        assert queues == [services.queues["support"]]
        skills = [tuple(row) for row in await session.execute(select(UserSkill.skill, UserSkill.level))]
        assert skills == [("german", 3)]
        entry = await session.scalar(select(AuditEntry))
    assert entry is not None and entry.action == "user.created" and entry.object_id == str(user_id)
    assert entry.actor_user_id is None
    assert entry.data == {"role": "agent", "queues": ["support"], "skills": {"german": 3}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("queues", ["support", "nope"]),
        ("role", "root"),
        ("email", "not-an-email"),
        ("password", "short"),
        ("skills", {"german": 0}),
        ("name", "  "),
        ("name", "Agent\x00Smith"),
        ("queues", ["support\x00"]),
        ("skills", {" german": 1}),
        ("locale", "d\x01e"),
    ],
)
async def test_create_user_rejects_bad_input_and_writes_nothing(services: Services, field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await make_user(services, **{field: value})
    assert caught.value.detail.startswith(field)
    assert await count(services, User) == 0
    assert await count(services, AuditEntry) == 0


async def test_a_second_user_with_the_same_email_in_other_case_is_a_conflict(services: Services) -> None:
    await make_user(services, "agent@example.com")
    with pytest.raises(Conflict):
        await make_user(services, "AGENT@example.com", password=None)
    assert await count(services, User) == 1


async def test_record_audit_refuses_credentials(services: Services) -> None:
    async with services.transaction() as unit:
        with pytest.raises(ValueError, match="credentials"):
            await record_audit(unit.session, actor_id=None, action="x", object_type="user", object_id=1, data={"password": "p"})


async def test_a_token_is_stored_only_as_its_digest(services: Services, database_url: str) -> None:
    user_id = await make_user(services)
    token_id, plain = await accounts.create_token(services, user_id=user_id, name="ci", actor_id=user_id)
    async with services.sessions() as session:
        token = await session.get(ApiToken, token_id)
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert token is not None and token.token_hash == digest(plain) and token.name == "ci"
    assert [e.action for e in entries] == ["user.created", "token.created"]
    assert entries[1].data == {"user_id": user_id, "name": "ci"}
    assert plain not in repr([(e.data, e.object_id) for e in entries])
    if database_url.startswith("sqlite"):
        await services.engine.dispose()  # checkpoint-free read of file and WAL
        path = Path(make_url(database_url).database or "")
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert digest(plain).encode() in stored
        assert plain.encode() not in stored


async def test_tokens_are_only_for_active_users(services: Services) -> None:
    user_id = await make_user(services)
    async with services.transaction() as unit:
        await unit.session.execute(update(User).values(active=False))
    with pytest.raises(NotFound):
        await accounts.create_token(services, user_id=user_id, name="ci", actor_id=None)
    with pytest.raises(NotFound):
        await accounts.create_token(services, user_id=user_id + 1, name="ci", actor_id=None)


async def test_revoking_someone_elses_token_is_not_found_unless_admin(services: Services) -> None:
    owner = await make_user(services, "owner@example.com")
    other = await make_user(services, "other@example.com")
    token_id, _ = await accounts.create_token(services, user_id=owner, name="ci", actor_id=owner)
    with pytest.raises(NotFound):
        await accounts.revoke_token(services, token_id, principal(other))
    await accounts.revoke_token(services, token_id, principal(other, Role.ADMIN))
    await accounts.revoke_token(services, token_id, principal(owner))  # already revoked: no error, no entry
    async with services.sessions() as session:
        token = await session.get(ApiToken, token_id)
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert token is not None and token.revoked_at is not None
    assert actions.count("token.revoked") == 1


async def test_login_opens_a_session_stored_by_digest(services: Services, limit: LoginRateLimit) -> None:
    user_id = await make_user(services)
    result = await accounts.login(services, " AGENT.smith@example.com", PASSWORD, "192.0.2.1", limit=limit)
    assert result.user_id == user_id and result.csrf_token and result.session_id != result.csrf_token
    async with services.sessions() as session:
        row = await session.get(WebSession, digest(result.session_id))
    assert row is not None and row.user_id == user_id and row.csrf_token == result.csrf_token
    assert row.expires_at == result.expires_at

    again = await accounts.login(services, "agent.smith@example.com", PASSWORD, "192.0.2.1", limit=limit, replaces=result.session_id)
    async with services.sessions() as session:
        hashes = (await session.scalars(select(WebSession.id_hash))).all()
    assert hashes == [digest(again.session_id)]
    await accounts.logout(services, again.session_id)
    assert await count(services, WebSession) == 0


async def test_every_bad_login_reads_the_same(services: Services, limit: LoginRateLimit) -> None:
    await make_user(services, "agent@example.com")
    await make_user(services, "nopass@example.com", password=None)
    await make_user(services, "gone@example.com")
    async with services.transaction() as unit:
        await unit.session.execute(update(User).where(User.email == "gone@example.com").values(active=False))
    details = set()
    for email, password in [
        ("agent@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("nopass@example.com", ""),
        ("gone@example.com", PASSWORD),
    ]:
        with pytest.raises(Unauthorized) as caught:
            await accounts.login(services, email, password, "192.0.2.1", limit=limit)
        details.add((caught.value.detail, caught.value.status))
    assert details == {(accounts.BAD_CREDENTIALS, 401)}
    assert await count(services, WebSession) == 0


async def test_login_rehashes_a_password_hashed_with_old_parameters(services: Services, limit: LoginRateLimit) -> None:
    user_id = await make_user(services, password=None)
    old = hash_password(PASSWORD, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    async with services.transaction() as unit:
        await unit.session.execute(update(User).values(password_hash=old))
    await accounts.login(services, "agent.smith@example.com", PASSWORD, None, limit=limit)
    async with services.sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None and user.password_hash is not None
    assert user.password_hash != old and not needs_rehash(user.password_hash)
    await accounts.login(services, "agent.smith@example.com", PASSWORD, None, limit=limit)  # the new hash works


async def test_set_password_lets_a_user_log_in_and_ends_old_sessions(services: Services, limit: LoginRateLimit) -> None:
    user_id = await make_user(services)
    old = await accounts.login(services, "agent.smith@example.com", PASSWORD, None, limit=limit)
    await accounts.set_password(services, user_id=user_id, password="another good one", actor_id=None)
    async with services.sessions() as session:
        assert await session.get(WebSession, digest(old.session_id)) is None
    with pytest.raises(Unauthorized):
        await accounts.login(services, "agent.smith@example.com", PASSWORD, None, limit=limit)
    await accounts.login(services, "agent.smith@example.com", "another good one", None, limit=limit)
    with pytest.raises(NotFound):
        await accounts.set_password(services, user_id=user_id + 99, password="another good one", actor_id=None)
