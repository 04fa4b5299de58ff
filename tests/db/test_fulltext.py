"""The full-text index: parsing what users type, the migration's objects, and the index in step with the rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.db.engine import create_engine, session_factory
from hub.db.fulltext import SearchQuery, conversation_match, fts5_match, parse, purge_deleted
from hub.db.migrate import alembic_config, upgrade
from hub.db.models import Channel, Contact, Conversation, Message
from tests.services import POSTGRES_ADMIN_URL, service_missing


def test_words_phrases_and_the_last_word_as_a_prefix() -> None:
    assert parse("Rechnung Mün") == SearchQuery(("Rechnung",), (), ("Mün",))
    assert parse('"aus München" bitte') == SearchQuery((), ("aus München",), ("bitte",))
    # A space or punctuation ends the last word, and a short one is a whole word.
    assert parse("Rechnung ") == SearchQuery(("Rechnung",))
    assert parse("100%") == SearchQuery(("100%",))
    assert parse("ab") == SearchQuery(("ab",))
    # A star asks for a prefix anywhere (and is no operator).
    assert parse("Rech* offen ") == SearchQuery(("offen",), (), ("Rech",))
    assert parse("ab* *") == SearchQuery(("ab*",))
    assert parse('"offen') == SearchQuery((), ("offen",))  # an unclosed quote runs to the end
    assert parse('***  "" "-" :') is None  # nothing an index holds


def test_every_part_reaches_fts5_quoted() -> None:
    assert fts5_match(SearchQuery(("a",), ('x "y"',), ("Mün",))) == '"a" "x ""y""" "Mün" *'
    query = parse("NEAR(a b) OR text:c -d ^e ")
    assert query is not None
    assert fts5_match(query) == '"NEAR(a" "b)" "OR" "text:c" "-d" "^e"'


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_the_migration_creates_the_indexes(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = set((await conn.execute(text("SELECT name FROM sqlite_master"))).scalars())
            assert {"search_messages", "search_subjects"} <= names
            assert {f"search_{t}_{op}" for t in ("messages", "subjects") for op in ("insert", "update", "delete")} <= names
        else:
            names = set((await conn.execute(text("SELECT indexname FROM pg_indexes"))).scalars())
            assert {"ix_messages_search", "ix_conversations_search"} <= names
            unaccent = await conn.scalar(text("SELECT to_tsvector('hub_search', 'Grüße')::text"))
            assert unaccent == "'grusse':1"  # unaccent is installed on the test server


async def _conversation(engine: AsyncEngine, subject: str | None, *texts: str) -> tuple[int, list[int]]:
    async with session_factory(engine)() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.name == "fts"))
        if channel_id is None:
            channel_id = (await session.execute(insert(Channel).values(name="fts", type="api").returning(Channel.id))).scalar_one()
        contact = Contact(name="K", attributes={})
        session.add(contact)
        await session.flush()
        conversation = Conversation(contact_id=contact.id, channel_id=channel_id, subject=subject)
        session.add(conversation)
        await session.flush()
        messages = [
            Message(conversation_id=conversation.id, channel_id=channel_id, direction="in", text=t, status="received")
            for t in texts
        ]
        session.add_all(messages)
        await session.flush()
        return conversation.id, [m.id for m in messages]


async def _found(engine: AsyncEngine, q: str) -> set[int]:
    async with session_factory(engine)() as session:
        return set((await session.scalars(select(Conversation.id).where(conversation_match(engine.dialect.name, q)))).all())


async def test_the_index_follows_inserts_updates_and_deletes(engine: AsyncEngine) -> None:
    first, (hello, _empty) = await _conversation(engine, "Lieferung", "Hallo Welt", "")
    second, _ = await _conversation(engine, None, "Zahlung offen")
    assert await _found(engine, "welt") == {first}
    assert await _found(engine, "lieferung") == {first}
    assert await _found(engine, "offen") == {second}
    assert await _found(engine, "hallo offen") == set()  # every word, in one message

    async with session_factory(engine)() as session, session.begin():
        await session.execute(update(Message).where(Message.id == hello).values(text="Servus Erde"))
        await session.execute(update(Message).where(Message.id == hello).values(status="read"))  # text untouched
        await session.execute(update(Conversation).where(Conversation.id == first).values(subject="Retoure"))
        await session.execute(update(Conversation).where(Conversation.id == second).values(subject="Mahnung"))
    assert await _found(engine, "welt") == set() and await _found(engine, "erde") == {first}
    assert await _found(engine, "lieferung") == set() and await _found(engine, "retoure") == {first}
    assert await _found(engine, "mahnung") == {second}

    async with session_factory(engine)() as session, session.begin():
        await session.execute(delete(Conversation).where(Conversation.id == second))  # messages cascade
        await purge_deleted(session)
    assert await _found(engine, "offen") == set() and await _found(engine, "mahnung") == set()
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            check = "INSERT INTO {0}({0}, rank) VALUES ('integrity-check', 0)"
            for name in ("search_messages", "search_subjects"):
                await conn.execute(text(check.format(name)))  # raises on a corrupt index


async def test_the_migration_indexes_existing_rows_and_downgrades(tmp_path: Path) -> None:
    """Upgrade to voice_1, write rows, upgrade (backfill), downgrade, upgrade again: on both backends."""
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    url = await _fresh_postgres()
    try:
        await _round_trip(url)
    finally:
        await _drop_postgres(url)


async def _round_trip(url: str) -> None:
    await upgrade(url, "voice_1")
    engine = create_engine(url)
    try:
        conversation_id, _ = await _conversation(engine, "Altbestand", "vorher geschrieben")
        await upgrade(url)
        assert await _found(engine, "vorher") == {conversation_id}
        assert await _found(engine, "altbestand") == {conversation_id}
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_config(url, c), "voice_1"))
            assert not await _search_objects(conn)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(url, c), "head"))
        assert await _found(engine, "geschrieben") == {conversation_id}
    finally:
        await engine.dispose()


async def _search_objects(conn: AsyncConnection) -> set[str]:
    if conn.dialect.name == "sqlite":
        names = (await conn.execute(text("SELECT name FROM sqlite_master"))).scalars()
    else:
        names = (await conn.execute(text(
            "SELECT indexname FROM pg_indexes UNION ALL SELECT cfgname FROM pg_ts_config"
        ))).scalars()
    return {n for n in names if "search" in n}


def _config(url: str, connection: Connection) -> Config:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    return cfg


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _fresh_postgres() -> str:
    name = f"hub_fts_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(_dsn(POSTGRES_ADMIN_URL), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        service_missing("PostgreSQL", exc)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(url: str) -> None:
    conn = await asyncpg.connect(_dsn(POSTGRES_ADMIN_URL), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()



async def test_postgresql_answers_from_the_indexes(postgres_database: str | BaseException) -> None:
    """The query's expressions are the indexes' expressions (else every search reads every message)."""
    if isinstance(postgres_database, BaseException):
        service_missing("PostgreSQL", postgres_database)
    assert isinstance(postgres_database, str)
    engine = create_engine(postgres_database)
    query = select(Conversation.id).where(conversation_match("postgresql", 'Rechnung "aus München" Rekl'))
    sql = str(query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # tables this small would be scanned
            plan = "\n".join((await conn.execute(text("EXPLAIN " + sql))).scalars())
    finally:
        await engine.dispose()
    assert "ix_messages_search" in plan and "ix_conversations_search" in plan, plan
