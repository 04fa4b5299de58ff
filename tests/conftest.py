"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.api.app import create_app
from hub.config import ChannelConfig, QueueConfig, Settings
from hub.db.engine import create_engine
from hub.db.migrate import upgrade
from hub.db.models import Base
from tests.services import POSTGRES_ADMIN_URL, REDIS_URL, service_missing

T = TypeVar("T")
BACKENDS = ("sqlite", "postgresql")
API_TOKEN = "test-channel-token"


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop in a thread (safe inside a running loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "hub.db"
    run_blocking(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | BaseException]:
    """A fresh database for this test run, migrated once; dropped at the end."""
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _asyncpg_dsn(POSTGRES_ADMIN_URL)

    async def create() -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        run_blocking(create())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        yield exc
        return
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    run_blocking(upgrade(url))
    yield url
    run_blocking(drop())


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    pg = request.getfixturevalue("postgres_database")
    if isinstance(pg, BaseException):
        service_missing("PostgreSQL", pg)
    assert isinstance(pg, str)
    await _truncate_all(pg)
    yield pg


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: one API channel ``web-form`` in queue ``support``."""
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": "test-secret-key",
        "queues": (QueueConfig("support"), QueueConfig("billing")),
        "channels": (
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN}),
            ChannelConfig(type="api", name="shop", queue="billing", options={"token": API_TOKEN + "-shop"}),
        ),
        "outbound_allow_networks": ("127.0.0.0/8",),
        # The router works in the background (assignments, queue.stats events); tests of other
        # areas expect a quiet hub, so it is off unless a test passes its own ``routing``.
        "routing": {"enabled": False},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[object, object]]:
    """A real HTTP server on loopback running the hub app, and a client for it."""
    app = create_app(settings)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix no other test run uses; its keys are deleted afterwards."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    prefix = f"hub-test:{uuid.uuid4().hex}:login:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
