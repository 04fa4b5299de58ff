"""Alembic environment: runs on the connection ``hub.db.migrate`` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hub.db.fulltext import is_search_object
from hub.db.models import Base

target_metadata = Base.metadata


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Autogenerate compares the models' tables; the full-text indexes are the migrations' own."""
    return not is_search_object(name, type_)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `hub migrate`, which provides the connection")
run_migrations(connection)
