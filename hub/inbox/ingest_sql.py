"""The statements of batched ingest, built once per SQL dialect.

Every statement runs on Core tables (no ORM unit of work), so a batch costs the same
dozen statements whatever its size. Lookups match ``a IN (...) AND b IN (...)`` on a
composite index and the caller keeps the exact pairs. On PostgreSQL a lookup list is
one array parameter (``= ANY($1)``): the statement text stays the same for every batch
size, so the server keeps one prepared statement and one plan for it; SQLite gets an
expanding ``IN`` instead (it has no arrays and prepares statements cheaply).

Every row of a batch carries the same timestamp. Converting a datetime for the driver
costs a few microseconds in Python, and a batch binds about ten per message, so the
batch converts it once (``IngestStatements.stamp``, the column type's own conversion)
and the inserts bind the converted value through a type that passes it on as it is.
Constant JSON (``{}``) is SQL text, not a parameter to serialize per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from hub.db.models import (
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    MessageAttachment,
    ThreadKey,
    TimelineEntry,
)

contacts = cast(Table, Contact.__table__)
identities = cast(Table, ContactIdentity.__table__)
conversations = cast(Table, Conversation.__table__)
messages = cast(Table, Message.__table__)
thread_keys = cast(Table, ThreadKey.__table__)
timeline = cast(Table, TimelineEntry.__table__)
attachments = cast(Table, MessageAttachment.__table__)


# The timestamp columns each insert binds as ``<column>_stamp``.
STAMPED = {
    "contacts": ("created_at", "updated_at"),
    "contact_identities": ("created_at",),
    "conversations": ("created_at", "updated_at", "last_message_at", "waiting_since"),
    "messages": ("created_at",),
    "timeline_entries": ("occurred_at",),
}


@dataclass(frozen=True)
class IngestStatements:
    """One dialect's statements; list parameters are passed as Python lists.

    The inserts take their timestamps as ``<column>_stamp`` keys holding ``stamp(now)``,
    converted once per batch (``STAMPED`` lists them).
    """

    stamp: Callable[[datetime], Any]

    find_stored: Any  # channels, ids -> id, conversation_id, channel_id, provider_message_id
    contacts_of: Any  # ids -> conversation id, contact_id
    find_identities: Any  # kinds, addresses -> kind, address, id, contact_id, contact name
    insert_contacts: Any  # rows -> id in row order
    insert_identities: Any  # rows -> kind, address, id
    name_contacts: Any  # rows of cid, new_name, at
    find_thread_keys: Any  # channels, keys -> channel_id, key, conversation id, queue_id, assignee_id
    find_open: Any  # contacts, channels -> contact_id, channel_id, id, queue_id, assignee_id
    find_conversations: Any  # ids -> id, channel_id, queue_id, assignee_id
    insert_conversations: Any  # rows -> id in row order
    insert_thread_keys: Any
    insert_messages: Any  # rows -> channel_id, provider_message_id, id
    touch_conversations: Any  # ids, at
    note_activity: Any  # ids, at: last_message_at only (machine-written mail)
    insert_timeline: Any
    insert_attachments: Any


def _build(dialect: Dialect) -> IngestStatements:
    postgres = dialect.name == "postgresql"

    def member(column: Any, name: str) -> ColumnElement[bool]:
        if postgres:
            return cast(ColumnElement[bool], column == any_(bindparam(name, type_=postgresql.ARRAY(column.type))))
        return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))

    # What the driver takes as it is: asyncpg encodes datetimes itself; SQLite stores text.
    converted: TypeEngine[Any] = DateTime(timezone=True) if postgres else String()

    def stamped(table: Table) -> dict[str, Any]:
        # One parameter per column: insertmanyvalues numbers each one per row.
        return {column: bindparam(f"{column}_stamp", type_=converted) for column in STAMPED[table.name]}
    convert = conversations.c.created_at.type.bind_processor(dialect) or (lambda value: value)
    empty_json: ColumnElement[Any] = literal_column("'{}'")

    return IngestStatements(
        stamp=convert,
        find_stored=select(messages.c.id, messages.c.conversation_id, messages.c.channel_id, messages.c.provider_message_id)
        .where(member(messages.c.channel_id, "channels"))
        .where(member(messages.c.provider_message_id, "ids")),
        contacts_of=select(conversations.c.id, conversations.c.contact_id).where(member(conversations.c.id, "ids")),
        find_identities=select(
            identities.c.kind, identities.c.address, identities.c.id, identities.c.contact_id, contacts.c.name
        )
        .join(contacts, contacts.c.id == identities.c.contact_id)
        .where(member(identities.c.kind, "kinds"))
        .where(member(identities.c.address, "addresses")),
        insert_contacts=insert(contacts)
        .values(attributes=empty_json, **stamped(contacts))
        .returning(contacts.c.id, sort_by_parameter_order=True),
        insert_identities=insert(identities)
        .values(**stamped(identities))
        .returning(identities.c.kind, identities.c.address, identities.c.id),
        name_contacts=update(contacts)
        .where(contacts.c.id == bindparam("cid"), contacts.c.name.is_(None))
        .values(name=bindparam("new_name"), updated_at=bindparam("at")),
        find_thread_keys=select(
            thread_keys.c.channel_id,
            thread_keys.c.key,
            conversations.c.id,
            conversations.c.queue_id,
            conversations.c.assignee_id,
        )
        .join(conversations, conversations.c.id == thread_keys.c.conversation_id)
        .where(member(thread_keys.c.channel_id, "channels"))
        .where(member(thread_keys.c.key, "keys")),
        find_open=select(
            conversations.c.contact_id,
            conversations.c.channel_id,
            conversations.c.id,
            conversations.c.queue_id,
            conversations.c.assignee_id,
        )
        .where(member(conversations.c.contact_id, "contacts"))
        .where(member(conversations.c.channel_id, "channels"))
        .where(conversations.c.status != "resolved")
        .order_by(conversations.c.last_message_at),
        find_conversations=select(
            conversations.c.id, conversations.c.channel_id, conversations.c.queue_id, conversations.c.assignee_id
        ).where(member(conversations.c.id, "ids")),
        insert_conversations=insert(conversations)
        .values(**stamped(conversations))
        .returning(conversations.c.id, sort_by_parameter_order=True),
        insert_thread_keys=insert(thread_keys),
        insert_messages=insert(messages)
        .values(**stamped(messages))
        .returning(messages.c.channel_id, messages.c.provider_message_id, messages.c.id),
        touch_conversations=update(conversations)
        .where(member(conversations.c.id, "ids"))
        .values(
            last_message_at=bindparam("at"),
            updated_at=bindparam("at"),
            status="open",
            snoozed_until=None,
            resolved_at=None,
            waiting_since=func.coalesce(conversations.c.waiting_since, bindparam("at")),
        ),
        note_activity=update(conversations)
        .where(member(conversations.c.id, "ids"))
        .values(last_message_at=bindparam("at"), updated_at=bindparam("at")),
        insert_timeline=insert(timeline).values(data=empty_json, **stamped(timeline)),
        insert_attachments=insert(attachments),
    )


_BUILT: dict[str, IngestStatements] = {}


def statements(dialect: Dialect) -> IngestStatements:
    """The ingest statements for ``dialect`` (SQLite or PostgreSQL), built on first use."""
    built = _BUILT.get(dialect.name)
    if built is None:
        built = _BUILT[dialect.name] = _build(dialect)
    return built
