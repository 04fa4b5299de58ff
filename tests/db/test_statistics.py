"""SQLite gets planner statistics (ANALYZE) from a periodic worker; PostgreSQL is left to autovacuum."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hub.bootstrap import build_services
from hub.db.statistics import SqliteStatistics
from tests.conftest import make_settings


async def test_a_round_writes_sqlite_statistics_and_leaves_postgresql_alone(database_url: str, tmp_path: Path) -> None:
    services = build_services(make_settings(database_url, tmp_path))
    try:
        await SqliteStatistics(services).analyze()
        async with services.engine.connect() as conn:
            if services.dialect == "sqlite":
                found = await conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
                assert found == 1
            else:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await services.engine.dispose()
