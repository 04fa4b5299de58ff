"""The contacts benchmark's database: N contacts with three identities each, built fast and cached.

Each contact also has a history: one resolved conversation (from its email identity)
with one message and its timeline entry, so the tables the record's foreign keys
point into are as large as the contact table (a foreign key without an index then
shows: every delete scans them).

SQLite: ``bench/out/contacts-<N>.db`` (bench/out is git-ignored), filled with the
standard library's ``sqlite3`` and ``executemany`` in large batches, journal off.
PostgreSQL: a database ``hub_bench_contacts_<N>`` on the local server, filled with
``COPY`` (asyncpg). Both are migrated first (``hub.db.migrate.upgrade``, so the schema
is the hub's own), kept afterwards, and reused by the next run when they still hold
the N contacts; each run adds and erases its own contact, which leaves the N alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from hub.db.migrate import upgrade
from hub.db.models import Contact

OUT = Path(__file__).resolve().parent / "out"
BATCH = 100_000
_FIRST = ("anna", "ben", "clara", "david", "emma", "felix", "greta", "hans", "ida", "jonas", "lena", "max")
_LAST = ("mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann")
_DOMAINS = ("example.de", "example.com", "firma.example", "post.example", "mail.example")
_MOBILE = ("151", "160", "170", "171", "176", "157", "162", "179")
_PLATFORMS = ("telegram:bot1", "slack:T01", "webchat:site", "meta:page7")
CREATED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
HISTORY_CHANNEL = "bench-history"


def email_of(i: int) -> str:
    return f"{_FIRST[i % 12]}.{_LAST[(i // 12) % 10]}{i}@{_DOMAINS[i % 5]}"


def phone_of(i: int) -> str:
    return f"+49{_MOBILE[i % 8]}{i:08d}"


def platform_of(i: int) -> str:
    return f"{_PLATFORMS[i % 4]}:u{i * 7 + 3}"


def identities_of(i: int) -> list[tuple[str, str]]:
    """Contact ``i``'s three identities as (kind, normalized address)."""
    return [("email", email_of(i)), ("phone", phone_of(i)), ("platform", platform_of(i))]


def name_of(i: int) -> str:
    return f"{_FIRST[i % 12].title()} {_LAST[(i // 12) % 10].title()} {i}"


def _chunks(total: int) -> Iterator[range]:
    for start in range(1, total + 1, BATCH):
        yield range(start, min(start + BATCH, total + 1))


class ContactsDatabase:
    """The cached benchmark database for one backend and size."""

    def __init__(self, backend: str, contacts: int, postgres_admin_url: str) -> None:
        self.backend = backend
        self.contacts = contacts
        self._admin = postgres_admin_url
        self._name = f"hub_bench_contacts_{contacts}"
        if backend == "sqlite":
            self.path = OUT / f"contacts-{contacts}.db"
            self.url = f"sqlite+aiosqlite:///{self.path}"
        else:
            self.url = make_url(postgres_admin_url).set(database=self._name).render_as_string(hide_password=False)

    def prepare(self, *, fresh: bool) -> tuple[bool, float]:
        """Reuse the cached database or build it; (built, seconds it took)."""
        started = time.perf_counter()
        if not fresh and self._complete():
            asyncio.run(upgrade(self.url))  # a newer schema since the cache was built
            return False, time.perf_counter() - started
        self._create_empty()
        asyncio.run(upgrade(self.url))
        if self.backend == "sqlite":
            self._fill_sqlite()
        else:
            asyncio.run(self._fill_postgres())
        return True, time.perf_counter() - started

    def _complete(self) -> bool:
        if self.backend == "sqlite":
            if not self.path.exists():
                return False
            with sqlite3.connect(self.path) as conn:
                try:
                    contacts, = conn.execute("SELECT count(*) FROM contacts").fetchone()
                    identities, = conn.execute("SELECT count(*) FROM contact_identities").fetchone()
                    history, = conn.execute("SELECT count(*) FROM timeline_entries").fetchone()
                except sqlite3.Error:
                    return False
            return bool(contacts >= self.contacts and identities >= 3 * self.contacts and history >= self.contacts)
        return asyncio.run(self._postgres_complete())

    async def _postgres_complete(self) -> bool:
        admin = await asyncpg.connect(_dsn(self._admin), timeout=10)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self._name):
                return False
        finally:
            await admin.close()
        conn = await asyncpg.connect(_dsn(self.url), timeout=10)
        try:
            contacts = await conn.fetchval("SELECT count(*) FROM contacts")
            identities = await conn.fetchval("SELECT count(*) FROM contact_identities")
            history = await conn.fetchval("SELECT count(*) FROM timeline_entries")
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()
        return bool(contacts >= self.contacts and identities >= 3 * self.contacts and history >= self.contacts)

    def _create_empty(self) -> None:
        if self.backend == "sqlite":
            OUT.mkdir(exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return

        async def recreate() -> None:
            admin = await asyncpg.connect(_dsn(self._admin), timeout=10)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{self._name}"')
            finally:
                await admin.close()

        asyncio.run(recreate())

    def _fill_sqlite(self) -> None:
        column = Contact.__table__.c.created_at
        stamp: Any = column.type.bind_processor(sqlite_dialect.dialect())
        created = stamp(CREATED) if stamp else CREATED
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode=OFF")  # the hub switches the file back to WAL when it connects
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-1000000")
            for ids in _chunks(self.contacts):
                for table, columns, rows in _tables(ids, created):
                    marks = ", ".join("?" for _ in columns)
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
                conn.commit()
            conn.execute("ANALYZE")
            conn.commit()
        finally:
            conn.close()

    async def _fill_postgres(self) -> None:
        conn = await asyncpg.connect(_dsn(self.url), timeout=10)
        try:
            for ids in _chunks(self.contacts):
                for table, columns, rows in _tables(ids, CREATED):
                    await conn.copy_records_to_table(table, columns=columns, records=rows)
            for table in TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            for table in TABLES:
                await conn.execute(f"VACUUM ANALYZE {table}")
        finally:
            await conn.close()


TABLES = ("channels", "contacts", "contact_identities", "conversations", "messages", "timeline_entries")


def _tables(ids: range, created: Any) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """The rows of contacts ``ids`` (and, with the first chunk, the channel), table by table."""
    if ids.start == 1:
        yield "channels", ["id", "name", "type", "created_at"], [(1, HISTORY_CHANNEL, "api", created)]
    yield "contacts", ["id", "name", "attributes", "created_at", "updated_at"], [
        (i, name_of(i), "{}", created, created) for i in ids
    ]
    yield "contact_identities", ["id", "contact_id", "kind", "address", "created_at"], [
        (3 * (i - 1) + n + 1, i, kind, address, created)
        for i in ids
        for n, (kind, address) in enumerate(identities_of(i))
    ]
    yield "conversations", [
        "id", "contact_id", "identity_id", "channel_id", "status", "priority", "created_at", "updated_at",
        "last_message_at", "resolved_at",
    ], [(i, i, 3 * (i - 1) + 1, 1, "resolved", 1, created, created, created, created) for i in ids]
    yield "messages", [
        "id", "conversation_id", "channel_id", "direction", "private", "text", "provider_message_id", "status",
        "created_at",
    ], [(i, i, 1, "in", False, f"Frage {i}: wo bleibt Lieferung {i % 997}?", f"h{i}", "received", created)
        for i in ids]
    yield "timeline_entries", [
        "id", "contact_id", "conversation_id", "channel_id", "kind", "message_id", "occurred_at", "data",
    ], [(i, i, i, 1, "message_in", i, created, "{}") for i in ids]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
