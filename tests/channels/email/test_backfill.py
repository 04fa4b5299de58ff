"""``hub email backfill``: a window of the mailbox imported again, and never twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from hub.bootstrap import build_services
from hub.cli import main
from hub.config import load_settings
from hub.db.migrate import upgrade
from tests.channels.email.conftest import CHANNEL, OtherClient, count_inbound, plain_mail
from tests.channels.email.dovecot import Mailbox


def write_config(tmp_path: Path, mailbox: Mailbox) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[[queues]]
name = "support"

[[channels]]
type = "email"
name = "{CHANNEL}"
queue = "support"
address = "support@example.com"
imap_host = "{mailbox.host}"
imap_port = {mailbox.port}
imap_security = "none"
imap_username = "{mailbox.username}"
imap_password_env = "TEST_IMAP_PASSWORD"
""",
        encoding="utf-8",
    )
    return path


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_backfill_imports_a_window_once_however_often_it_runs(
    tmp_path: Path, database_url: str, mailbox: Mailbox, other_client: OtherClient,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Dovecot keeps an APPEND's arrival date only if it lies in the past.
    today = datetime.now(UTC).date()
    since, before = today - timedelta(days=40), today - timedelta(days=70)
    for n in (1, 2, 3):
        await other_client.append(plain_mail(n), arrived=datetime.combine(since, time(9), UTC) + timedelta(days=1))
    await other_client.append(plain_mail(4), arrived=datetime.combine(before, time(9), UTC) + timedelta(days=1))
    config = write_config(tmp_path, mailbox)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("TEST_IMAP_PASSWORD", mailbox.password)
    monkeypatch.delenv("HUB_REDIS_URL", raising=False)
    await upgrade(database_url)

    assert await run_cli("--config", str(config), "email", "backfill", "--channel", CHANNEL, "--since", since.isoformat()) == 0
    assert "3 mail(s) in the window: 3 imported" in capsys.readouterr().out
    assert await run_cli("--config", str(config), "email", "backfill", "--channel", CHANNEL, "--since", since.isoformat()) == 0
    assert "3 mail(s) in the window: 3 duplicate" in capsys.readouterr().out
    assert await run_cli("--config", str(config), "email", "backfill", "--channel", CHANNEL,
                         "--since", before.isoformat(), "--until", since.isoformat()) == 0
    assert "1 mail(s) in the window: 1 imported" in capsys.readouterr().out

    services = build_services(load_settings(config))
    try:
        assert await count_inbound(services) == 4
    finally:
        await services.engine.dispose()


async def test_backfill_refuses_what_it_cannot_do(
    tmp_path: Path, database_url: str, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, mailbox)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEST_IMAP_PASSWORD", mailbox.password)
    assert await run_cli("--config", str(config), "email", "backfill", "--channel", "nope", "--since", "2030-11-01") == 2
    assert "no channel named 'nope'" in capsys.readouterr().err
    assert await run_cli("--config", str(config), "email", "backfill", "--channel", CHANNEL,
                         "--since", "2030-11-02", "--until", "2030-11-01") == 2
    assert "--until must lie after --since" in capsys.readouterr().err
