"""search: full-text indexes over message text and conversation subjects

SQLite: contentless FTS5 tables kept in step by triggers (every insert, update of the
text and delete, cascades included). PostgreSQL: GIN indexes over ``to_tsvector`` with
the configuration ``hub_search`` (``simple`` plus ``unaccent`` where the extension can
be created). See hub/db/fulltext.py, which queries them.

Revision ID: search_1
Revises: voice_1
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "search_1"
down_revision = "voice_1"
branch_labels = None
depends_on = None

# The statements are spelled out here, not imported: a migration stays what it was.
MAX_INDEXED = 100_000  # characters of a message that are indexed (PostgreSQL: a tsvector is at most 1 MB)
# No prefix indexes: they would double the index per prefix length for queries that match broadly anyway.
FTS5 = "tokenize = 'unicode61 remove_diacritics 2', content = '', columnsize = 0"

SQLITE_UP = (
    f"CREATE VIRTUAL TABLE search_messages USING fts5(text, {FTS5})",
    f"CREATE VIRTUAL TABLE search_subjects USING fts5(subject, {FTS5})",
    # A contentless index forgets a row only when told the exact values it indexed.
    f"""CREATE TRIGGER search_messages_insert AFTER INSERT ON messages WHEN new.text != '' BEGIN
        INSERT INTO search_messages(rowid, text) VALUES (new.id, substr(new.text, 1, {MAX_INDEXED}));
    END""",
    f"""CREATE TRIGGER search_messages_delete AFTER DELETE ON messages WHEN old.text != '' BEGIN
        INSERT INTO search_messages(search_messages, rowid, text)
        VALUES ('delete', old.id, substr(old.text, 1, {MAX_INDEXED}));
    END""",
    f"""CREATE TRIGGER search_messages_update AFTER UPDATE OF text ON messages WHEN old.text IS NOT new.text BEGIN
        INSERT INTO search_messages(search_messages, rowid, text)
        SELECT 'delete', old.id, substr(old.text, 1, {MAX_INDEXED}) WHERE old.text != '';
        INSERT INTO search_messages(rowid, text)
        SELECT new.id, substr(new.text, 1, {MAX_INDEXED}) WHERE new.text != '';
    END""",
    """CREATE TRIGGER search_subjects_insert AFTER INSERT ON conversations WHEN new.subject != '' BEGIN
        INSERT INTO search_subjects(rowid, subject) VALUES (new.id, new.subject);
    END""",
    """CREATE TRIGGER search_subjects_delete AFTER DELETE ON conversations WHEN old.subject != '' BEGIN
        INSERT INTO search_subjects(search_subjects, rowid, subject) VALUES ('delete', old.id, old.subject);
    END""",
    """CREATE TRIGGER search_subjects_update AFTER UPDATE OF subject ON conversations
    WHEN old.subject IS NOT new.subject BEGIN
        INSERT INTO search_subjects(search_subjects, rowid, subject)
        SELECT 'delete', old.id, old.subject WHERE old.subject != '';
        INSERT INTO search_subjects(rowid, subject) SELECT new.id, new.subject WHERE new.subject != '';
    END""",
    f"INSERT INTO search_messages(rowid, text) SELECT id, substr(text, 1, {MAX_INDEXED}) FROM messages WHERE text != ''",
    "INSERT INTO search_subjects(rowid, subject) SELECT id, subject FROM conversations WHERE subject != ''",
    "INSERT INTO search_messages(search_messages) VALUES ('optimize')",
    "INSERT INTO search_subjects(search_subjects) VALUES ('optimize')",
)

SQLITE_DOWN = (
    "DROP TRIGGER search_subjects_update",
    "DROP TRIGGER search_subjects_delete",
    "DROP TRIGGER search_subjects_insert",
    "DROP TRIGGER search_messages_update",
    "DROP TRIGGER search_messages_delete",
    "DROP TRIGGER search_messages_insert",
    "DROP TABLE search_subjects",
    "DROP TABLE search_messages",
)

POSTGRES_UP = (
    "CREATE TEXT SEARCH CONFIGURATION hub_search (COPY = simple)",
    f"CREATE INDEX ix_messages_search ON messages USING gin "
    f"(to_tsvector('hub_search'::regconfig, left(text, {MAX_INDEXED})))",
    "CREATE INDEX ix_conversations_search ON conversations USING gin (to_tsvector('hub_search'::regconfig, subject))",
)
UNACCENT = "ALTER TEXT SEARCH CONFIGURATION hub_search ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple"

POSTGRES_DOWN = (
    "DROP INDEX ix_conversations_search",
    "DROP INDEX ix_messages_search",
    "DROP TEXT SEARCH CONFIGURATION hub_search",  # the unaccent extension stays: others may use it
)


def _unaccent_available(bind: sa.Connection) -> bool:
    """Create the ``unaccent`` extension if allowed (a trusted extension: the database owner may)."""
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except sa.exc.DBAPIError:
        return False  # not installed on the server, or no right to create it: words keep their accents
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    unaccent = _unaccent_available(bind)
    op.execute(POSTGRES_UP[0])
    if unaccent:
        op.execute(UNACCENT)
    for statement in POSTGRES_UP[1:]:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in SQLITE_DOWN if bind.dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
