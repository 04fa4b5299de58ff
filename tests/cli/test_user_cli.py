"""``hub user create`` and ``hub token create`` against a real database."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.auth import accounts
from hub.auth.ratelimit import LoginRateLimit, MemoryCounters
from hub.auth.tokens import digest
from hub.bootstrap import build_services
from hub.bus import InProcessBus
from hub.cli import main
from hub.config import load_settings
from hub.db.models import ApiToken, Queue, QueueMember, User, UserSkill
from hub.services import Services

CONFIG = """
[[queues]]
name = "support"

[[queues]]
name = "billing"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A config file listing queues; the environment points the CLI at the test database."""
    path = tmp_path / "hub.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    monkeypatch.delenv("HUB_REDIS_URL", raising=False)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    return str(path)


@pytest.fixture
async def services(config: str) -> AsyncIterator[Services]:
    services = build_services(load_settings(config), bus=InProcessBus())
    yield services
    await services.engine.dispose()


async def hub(*argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the CLI as a user would (its own event loop, so in a thread)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return await asyncio.to_thread(main, list(argv))


async def test_user_create_reads_the_password_from_stdin_and_joins_queues(
    config: str, services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await hub(
        "--config", config, "user", "create", "--email", "Anna@Example.com", "--name", "Anna Agent",
        "--role", "agent", "--password-stdin", "--queues", "support,billing", "--skills", "german:5,english",
        stdin="a good long password\n", monkeypatch=monkeypatch,
    )
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "anna@example.com" in out.out and "password" not in out.out
    async with services.sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None and user.email == "anna@example.com" and user.role == "agent"
        queues = (
            await session.scalars(select(Queue.name).join(QueueMember, QueueMember.queue_id == Queue.id).order_by(Queue.name))
        ).all()
        skills = {s.skill: s.level for s in (await session.scalars(select(UserSkill))).all()}
    assert queues == ["billing", "support"]
    assert skills == {"german": 5, "english": 1}
    limit = LoginRateLimit(MemoryCounters(), max_failures=5, window_seconds=60)
    result = await accounts.login(services, "anna@example.com", "a good long password", None, limit=limit)
    assert result.user_id == user.id


async def test_a_user_without_password_is_told_so_and_a_token_create_prints_only_the_token(
    config: str, services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await hub(
        "--config", config, "user", "create", "--email", "bot@example.com", "--name", "Bot", "--role", "admin",
        monkeypatch=monkeypatch,
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "no password" in out and "cannot log in" in out

    status = await hub("--config", config, "token", "create", "--email", "BOT@example.com", monkeypatch=monkeypatch)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 1 and captured.out == lines[0] + "\n"
    token = lines[0]
    async with services.sessions() as session:
        stored = await session.scalar(select(ApiToken))
    assert stored is not None and stored.token_hash == digest(token) and stored.name == "cli"


async def test_errors_go_to_stderr_with_exit_status_2_and_change_nothing(
    config: str, services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await hub(
        "--config", config, "user", "create", "--email", "x@example.com", "--name", "X", "--role", "agent",
        "--queues", "support,nowhere", monkeypatch=monkeypatch,
    )
    captured = capsys.readouterr()
    assert status == 2 and "nowhere" in captured.err and captured.out == ""

    status = await hub(
        "--config", config, "user", "create", "--email", "x@example.com", "--name", "X", "--role", "agent",
        "--skills", "german:high", monkeypatch=monkeypatch,
    )
    assert status == 2 and "--skills" in capsys.readouterr().err

    status = await hub("--config", config, "token", "create", "--email", "nobody@example.com", monkeypatch=monkeypatch)
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and "no user" in captured.err
    async with services.sessions() as session:
        assert (await session.scalars(select(User))).all() == []
        assert (await session.scalars(select(ApiToken))).all() == []


async def test_set_password_enables_login_for_a_user_created_without_one(
    config: str, services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hub(
        "--config", config, "user", "create", "--email", "late@example.com", "--name", "Late", "--role", "supervisor",
        monkeypatch=monkeypatch,
    ) == 0
    status = await hub(
        "--config", config, "user", "set-password", "--email", "late@example.com",
        stdin="finally a password\n", monkeypatch=monkeypatch,
    )
    assert status == 0, capsys.readouterr().err
    limit = LoginRateLimit(MemoryCounters(), max_failures=5, window_seconds=60)
    await accounts.login(services, "late@example.com", "finally a password", None, limit=limit)
