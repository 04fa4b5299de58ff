"""Full-text search over message text and conversation subjects, on SQLite and PostgreSQL.

The indexes come from the migration ``search_1``: on SQLite contentless FTS5 tables
(``unicode61 remove_diacritics 2``) that triggers keep in step with ``messages.text``
and ``conversations.subject``; on PostgreSQL GIN indexes over ``to_tsvector`` with the
configuration ``hub_search`` (``simple``, plus ``unaccent`` where it could be created).

What a user types is never handed to either query language as it is: ``parse`` reads
it as words and ``"quoted phrases"`` (everything else is an ordinary character), and
each dialect gets them quoted its own way, so no input is a syntax error. Every word
and phrase must occur (in one message, or in the subject); the last word, unless a
space follows it, also matches as the beginning of a longer word (search as you type).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Integer,
    column,
    false,
    func,
    literal_column,
    select,
    table,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import text as sql_text

from hub.db.models import Conversation, Message

MAX_INDEXED = 100_000  # characters of a message the index holds (as in the migration)
MIN_PREFIX = 3  # a shorter last word matches whole words only (a short prefix matches nearly everything)
SQLITE_TABLES = ("search_messages", "search_subjects")
POSTGRES_INDEXES = ("ix_messages_search", "ix_conversations_search")
POSTGRES_CONFIG = "hub_search"

_PART = re.compile(r'"([^"]*)(?:"|$)|([^\s"]+)')


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: whole words, phrases, and words that also match as the beginning of a word."""

    words: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


def _searchable(part: str) -> bool:
    return any(c.isalnum() for c in part)  # both tokenizers split on everything else


def parse(text: str) -> SearchQuery | None:
    """The query in ``text``; None when it has nothing an index holds (only punctuation)."""
    words: list[str] = []
    phrases: list[str] = []
    prefixes: list[str] = []
    for match in _PART.finditer(text):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            if _searchable(phrase):
                phrases.append(phrase)
            continue
        if not _searchable(word):
            continue
        stem = word.rstrip("*")
        typing = match.end() == len(text) and word[-1].isalnum()  # the word being typed
        if (stem != word or typing) and len(stem) >= MIN_PREFIX and stem[-1].isalnum():
            prefixes.append(stem)
        else:
            words.append(word)
    if not words and not phrases and not prefixes:
        return None
    return SearchQuery(tuple(words), tuple(phrases), tuple(prefixes))


def fts5_match(query: SearchQuery) -> str:
    """An FTS5 MATCH expression: every part a quoted string (no operator, column or ``*`` from the user)."""

    def quoted(part: str) -> str:
        return '"' + part.replace('"', '""') + '"'

    parts = [quoted(p) for p in (*query.words, *query.phrases)]
    parts += [quoted(p) + " *" for p in query.prefixes]
    return " ".join(parts)


def _ts_config() -> ColumnElement[str]:
    # A literal, not a parameter: PostgreSQL uses the expression index only for the same expression.
    return literal_column(f"'{POSTGRES_CONFIG}'::regconfig")


def _tsquery(query: SearchQuery) -> ColumnElement[str]:
    config = _ts_config()
    parts: list[ColumnElement[str]] = []
    if query.words:
        parts.append(func.plainto_tsquery(config, " ".join(query.words)))
    parts += [func.phraseto_tsquery(config, p) for p in query.phrases]
    for prefix in query.prefixes:
        # to_tsquery's own syntax: a quoted operand (quotes and backslashes escaped), ':*' for a prefix.
        operand = "'" + prefix.replace("\\", "\\\\").replace("'", "''") + "':*"
        parts.append(func.to_tsquery(config, operand))
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.op("&&")(part)
    return combined


def _matches(vector: ColumnElement[str], query: ColumnElement[str]) -> ColumnElement[bool]:
    return vector.bool_op("@@")(query)


def conversation_match(dialect: str, text: str) -> ColumnElement[bool]:
    """``Conversation`` rows whose subject or one of whose messages holds every part of ``text``."""
    query = parse(text)
    if query is None:
        return false()
    if dialect == "sqlite":
        expression = fts5_match(query)
        messages_index = table(SQLITE_TABLES[0], column("rowid", Integer))
        subjects_index = table(SQLITE_TABLES[1], column("rowid", Integer))
        hits = select(messages_index.c.rowid).where(literal_column(SQLITE_TABLES[0]).op("MATCH")(expression))
        by_message = select(Message.conversation_id).where(Message.id.in_(hits))
        by_subject = select(subjects_index.c.rowid).where(literal_column(SQLITE_TABLES[1]).op("MATCH")(expression))
    else:
        tsquery = _tsquery(query)
        config = _ts_config()
        by_message = select(Message.conversation_id).where(
            _matches(func.to_tsvector(config, func.left(Message.text, literal_column(str(MAX_INDEXED), Integer))), tsquery)
        )
        by_subject = select(Conversation.id).where(_matches(func.to_tsvector(config, Conversation.subject), tsquery))
    return Conversation.id.in_(union(by_message, by_subject))


async def purge_deleted(session: AsyncSession) -> None:
    """Drop what deleted or changed rows left in the index, so no word of them stays stored.

    FTS5 records a delete as a tombstone next to the old entry until segments merge;
    ``optimize`` merges them all now (a rewrite of the index: for erasure and retention
    runs, not for every delete). Nothing to do on PostgreSQL: VACUUM removes a GIN
    index's entries with the dead row versions (its words stay as keys until a
    ``REINDEX``, see docs/privacy.md).
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for name in SQLITE_TABLES:
        await session.execute(sql_text(f"INSERT INTO {name}({name}) VALUES ('optimize')"))


def is_search_object(name: str | None, type_: str) -> bool:
    """Whether a reflected table or index is one of these indexes (not described by the models)."""
    if name is None:
        return False
    if type_ == "table":
        return any(name == t or name.startswith(t + "_") for t in SQLITE_TABLES)
    return type_ == "index" and name in POSTGRES_INDEXES
