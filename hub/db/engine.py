"""Async engine creation for SQLite (embedded default) and PostgreSQL (cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine with the pragmas and pool settings the hub relies on.

    SQLite: WAL (readers never wait for the writer), foreign keys enforced,
    ``synchronous=NORMAL`` (durable at each WAL checkpoint and safe against
    corruption; a power cut may lose the last commits, not a process crash).
    The pool is LIFO: busy work keeps reusing the same warm connection (SQLite page
    cache, PostgreSQL prepared statements) instead of rotating through all of them.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["pool_use_lifo"] = True  # a file database has a pool (":memory:" has one connection)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
        kwargs["pool_pre_ping"] = True
        kwargs["pool_use_lifo"] = True
        # Multi-row INSERTs have one statement text per row count; keep them prepared.
        kwargs["connect_args"] = {"prepared_statement_cache_size": 500}
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # A multi-row INSERT gives an INTEGER PRIMARY KEY (rowid) ascending values in
        # VALUES order, so SQLAlchemy may sort RETURNING rows by it. Without this, an
        # INSERT ... RETURNING that must keep parameter order runs once per row.
        engine.dialect.insertmanyvalues_implicit_sentinel = InsertmanyvaluesSentinelOpts.AUTOINCREMENT
    else:
        # asyncpg's executemany runs one INSERT per row; a multi-row VALUES is one statement.
        engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Freed space is zeroed, so erased personal data leaves no copy in free pages (docs/privacy.md).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
