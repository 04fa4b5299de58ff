"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from hub.db.engine import create_engine
from hub.db.fulltext import is_search_object
from hub.db.migrate import alembic_config
from hub.db.models import Base


def _fk_signature(constraint: Any) -> tuple[Any, ...]:
    return (
        constraint.table.name,
        tuple(c.name for c in constraint.columns),
        constraint.referred_table.name,
        tuple(e.target_fullname.split(".")[-1] for e in constraint.elements),
    )


def _differences(connection: Connection) -> list[Any]:
    # The full-text indexes are the migrations' own (tests/db/test_fulltext.py checks them).
    opts = {"compare_type": True, "include_name": lambda name, type_, _parents: not is_search_object(name, type_)}
    context = MigrationContext.configure(connection, opts=opts)
    differences = list(compare_metadata(context, Base.metadata))
    if connection.dialect.name != "sqlite":
        return differences
    # SQLite reflects a foreign key added with ALTER TABLE ... ADD COLUMN ... REFERENCES
    # without its name and ON DELETE (they are in the table's SQL all the same). Adding a
    # column that way is the only way short of copying the table, which would cascade.
    unnamed = {_fk_signature(d[1]) for d in differences if d[0] == "remove_fk" and d[1].name is None}
    return [
        d for d in differences
        if not (d[0] in ("remove_fk", "add_fk") and _fk_signature(d[1]) in unnamed)
    ]


async def test_the_migrated_database_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], "write an Alembic revision for: " + repr(differences)


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///:memory:"))
    assert len(script.get_heads()) == 1, script.get_heads()
