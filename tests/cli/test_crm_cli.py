"""``hub contacts import|export`` and ``hub retention run`` against a real database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.bootstrap import build_services
from hub.bus import InProcessBus
from hub.cli import main
from hub.config import load_settings
from hub.db.models import Contact

CONFIG = """
[[queues]]
name = "support"

[retention]
run_at = ""

[[retention.conversations]]
name = "old"
resolved_days = 30
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "hub.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    monkeypatch.delenv("HUB_REDIS_URL", raising=False)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    return str(path)


async def hub(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def contacts(config: str) -> int:
    services = build_services(load_settings(config), bus=InProcessBus())
    try:
        async with services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Contact)) or 0)
    finally:
        await services.engine.dispose()


async def test_import_with_a_dry_run_then_export(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "kunden.csv"
    source.write_text("Name;Mail\nErika;erika@example.de\n@Böse;boese@example.de\nKaputt;kaputt\n", encoding="utf-8")
    args = ("--config", config, "contacts", "import", str(source), "--map", "Name=name", "--map", "Mail=email")
    assert await hub(*args, "--dry-run") == 1  # a row failed
    out = capsys.readouterr()
    assert "3 rows: dry run: would create 2, updated 0, failed 1" in out.out and "row 4 (Mail)" in out.err
    assert await contacts(config) == 0
    assert await hub(*args, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["failed"]) == (2, 1)

    target = tmp_path / "out.csv"
    assert await hub("--config", config, "contacts", "export", "--delimiter", ";", "--output", str(target)) == 0
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [r[1] for r in rows[1:]] == ["Erika", "'@Böse"]
    bad = ("--config", config, "contacts", "import", str(source), "--map", "Name")
    assert await hub(*bad) == 2
    assert "COLUMN=TARGET" in capsys.readouterr().err


async def test_retention_run_reports(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await hub("--config", config, "retention", "run", "--dry-run", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True and report["conversation_ids"] == {"old": []}
    assert await hub("--config", config, "retention", "run") == 0
    assert "old: deleted 0 conversations" in capsys.readouterr().out
