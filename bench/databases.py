"""Fresh databases for a benchmark run, and the stored-message check at its end."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from hub.db.migrate import upgrade

CHANNEL = "bench"
_STORED = (
    "SELECT m.provider_message_id FROM messages m JOIN channels c ON c.id = m.channel_id "
    "WHERE c.name = $1 AND m.direction = 'in'"
)
_EVENTS = "SELECT count(*) FROM events WHERE type = 'message.received'"


@dataclass
class Stored:
    """What the hub stored for the benchmark channel."""

    ids: list[str]
    received_events: int


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """A migrated, empty database that lives for one run."""

    def __init__(self, backend: str, workdir: Path, postgres_admin_url: str) -> None:
        self.backend = backend
        self._admin = postgres_admin_url
        self._name = f"hub_bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            self.path = workdir / "hub.db"
            self.url = f"sqlite+aiosqlite:///{self.path}"
        else:
            self.url = make_url(postgres_admin_url).set(database=self._name).render_as_string(hide_password=False)

    def create(self) -> None:
        """Create (PostgreSQL) and migrate to the newest schema."""
        if self.backend == "postgresql":
            asyncio.run(self._admin_execute(f'CREATE DATABASE "{self._name}"'))
        asyncio.run(upgrade(self.url))

    def drop(self) -> None:
        """Remove the database (the SQLite file goes with the temp dir)."""
        if self.backend == "postgresql":
            asyncio.run(self._admin_execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)'))

    def analyze(self) -> None:
        """Gather planner statistics, as autovacuum does within a minute on a live PostgreSQL.

        A database created seconds ago has none, and the planner then guesses that one
        channel's messages are a handful of rows (a scan where an index probe belongs).
        SQLite plans by its index heuristics and needs no statistics.
        """
        if self.backend == "postgresql":
            asyncio.run(self._execute(self.url, "ANALYZE"))

    async def _admin_execute(self, sql: str) -> None:
        await self._execute(self._admin, sql)

    async def _execute(self, url: str, sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def stored(self) -> Stored:
        """Provider ids of every inbound message on the benchmark channel, and event count."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.path) as conn:
                ids = [row[0] for row in conn.execute(_STORED.replace("$1", "?"), (CHANNEL,))]
                (events,) = conn.execute(_EVENTS).fetchone()
            return Stored(ids, int(events))
        return asyncio.run(self._stored_postgres())

    async def _stored_postgres(self) -> Stored:
        conn = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=10)
        try:
            ids = [row[0] for row in await conn.fetch(_STORED, CHANNEL)]
            events = await conn.fetchval(_EVENTS)
        finally:
            await conn.close()
        return Stored(ids, int(events))


def verify(stored: Stored, acked: set[str], sent_unique: set[str], errors: int) -> dict[str, object]:
    """No loss, no duplicates, nothing unknown; with no errors, stored == sent exactly."""
    stored_set = set(stored.ids)
    missing = acked - stored_set
    unknown = stored_set - sent_unique
    duplicated = len(stored.ids) - len(stored_set)
    problems: list[str] = []
    if missing:
        problems.append(f"{len(missing)} acknowledged messages are not stored (loss)")
    if duplicated:
        problems.append(f"{duplicated} messages are stored twice")
    if unknown:
        problems.append(f"{len(unknown)} stored ids were never sent")
    if errors == 0 and stored_set != sent_unique:
        problems.append(f"{len(sent_unique - stored_set)} sent messages are not stored")
    if stored.received_events != len(stored.ids):
        problems.append(
            f"{stored.received_events} message.received events for {len(stored.ids)} stored messages"
        )
    return {
        "sent_unique": len(sent_unique),
        "acked_unique": len(acked),
        "stored": len(stored.ids),
        "stored_unique": len(stored_set),
        "received_events": stored.received_events,
        "problems": problems,
        "ok": not problems,
    }
