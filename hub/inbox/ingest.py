"""Ingest: normalized inbound messages become stored, threaded conversation messages.

``ingest_batch`` does the work for many messages in one transaction; the batcher
(``hub.inbox.batcher``) feeds it concurrent requests so that one commit serves many
(group commit). For each message, in order:

1. dedupe on (channel, provider message id): a replay returns the stored message;
2. resolve the contact by any of the sender's identities, else create one;
3. thread: a known thread key or reference, else the contact's open conversation on
   that channel, else a new conversation in the channel's queue;
4. store message and attachments, touch the conversation, append to the timeline,
   and emit events;
5. record a consent statement the message makes (an SMS STOP), with it as evidence.

A batch costs a fixed dozen statements whatever its size (``hub.inbox.ingest_sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.blobs import BlobStore
from hub.db.models import Blob
from hub.db.upsert import insert_ignore
from hub.events import Event
from hub.inbox.acknowledge import Opened, acknowledge
from hub.inbox.consent_statements import record_statements
from hub.inbox.html import sanitize_html
from hub.inbox.ingest_sql import STAMPED, IngestStatements, statements
from hub.messages import Attachment, InboundMessage
from hub.services import Endpoint


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int
    conversation_id: int
    contact_id: int
    duplicate: bool


@dataclass(slots=True)
class _Pending:
    """Working state of one message inside a batch."""

    message: InboundMessage
    endpoint: Endpoint
    keys: list[tuple[str, str]]  # the sender's identities as (kind, address), primary first
    duplicate_of: int | None = None  # index of an earlier item in the batch with the same key
    contact_id: int | None = None
    new_contact: int | None = None  # index into the batch's new contacts
    identity_id: int | None = None
    conversation_id: int | None = None
    new_conversation: int | None = None  # index into the batch's new conversations
    queue_id: int | None = None
    assignee_id: int | None = None
    result: IngestResult | None = None


async def ingest_batch(
    session: AsyncSession,
    messages: Sequence[InboundMessage],
    endpoints: dict[str, Endpoint],
    blobs: BlobStore,
    now: datetime,
) -> tuple[list[IngestResult], list[Event]]:
    """Store ``messages`` in the caller's transaction; return one result each and the events."""
    items = [
        _Pending(
            message=m,
            endpoint=endpoints[m.channel],
            keys=[(i.kind.value, i.address) for i in m.sender.identities],
        )
        for m in messages
    ]
    sql = statements(session.get_bind().dialect)
    converted = sql.stamp(now)
    stamp = {
        table: {f"{column}_stamp": converted for column in columns} for table, columns in STAMPED.items()
    }
    await _dedupe(session, sql, items)
    fresh = [it for it in items if it.result is None and it.duplicate_of is None]
    events: list[Event] = []
    if fresh:
        await _resolve_contacts(session, sql, fresh, now, stamp, events)
        await _thread(session, sql, fresh, now, stamp, events)
        await _store(session, sql, fresh, blobs, now, stamp, events)
        stated = [
            (it.message, it.result.message_id, it.result.contact_id, it.endpoint.name)
            for it in fresh
            if it.message.consent is not None and it.result is not None
        ]
        if stated:
            events.extend(await record_statements(session, stated, now))
        opened = [
            Opened(it.conversation_id, it.contact_id, it.endpoint.channel_id, it.endpoint.name, it.queue_id,
                   it.message.acknowledgement)
            for it in fresh
            if it.new_conversation is not None and it.message.acknowledgement is not None
            and it.message.auto_submitted is None and it.conversation_id is not None and it.contact_id is not None
        ]
        if opened:
            events.extend(await acknowledge(session, opened, now))
    for it in items:
        if it.duplicate_of is not None:
            first = items[it.duplicate_of].result
            assert first is not None
            it.result = IngestResult(first.message_id, first.conversation_id, first.contact_id, True)
    return [it.result for it in items if it.result is not None], events


async def _dedupe(session: AsyncSession, sql: IngestStatements, items: list[_Pending]) -> None:
    first_index: dict[tuple[int, str], int] = {}
    for index, it in enumerate(items):
        key = (it.endpoint.channel_id, it.message.provider_message_id)
        if key in first_index:
            it.duplicate_of = first_index[key]
        else:
            first_index[key] = index
    stored = (
        await session.execute(
            sql.find_stored,
            {"channels": list({c for c, _ in first_index}), "ids": list({p for _, p in first_index})},
        )
    ).all()
    found = [row for row in stored if (row[2], row[3]) in first_index]
    if not found:
        return  # the common case: nothing is a replay
    contacts = dict((await session.execute(sql.contacts_of, {"ids": list({row[1] for row in found})})).all())
    for message_id, conversation_id, channel_id, provider_id in found:
        items[first_index[(channel_id, provider_id)]].result = IngestResult(
            message_id, conversation_id, contacts[conversation_id], duplicate=True
        )


async def _resolve_contacts(
    session: AsyncSession,
    sql: IngestStatements,
    items: list[_Pending],
    now: datetime,
    stamp: dict[str, dict[str, Any]],
    events: list[Event],
) -> None:
    wanted = {k for it in items for k in it.keys}
    known: dict[tuple[str, str], tuple[int, int]] = {}  # identity -> (identity id, contact id)
    nameless: set[int] = set()  # known contacts without a name yet
    identity_rows = await session.execute(
        sql.find_identities,
        {"kinds": list({kind for kind, _ in wanted}), "addresses": list({a for _, a in wanted})},
    )
    for kind, address, identity_id, contact_id, name in identity_rows:
        if (kind, address) in wanted:
            known[(kind, address)] = (identity_id, contact_id)
            if name is None:
                nameless.add(contact_id)

    new_contacts: list[dict[str, Any]] = []
    pending_identity: dict[tuple[str, str], int] = {}  # identity -> new-contact index
    for it in items:
        hit = next((known[k] for k in it.keys if k in known), None)
        if hit is not None:
            it.contact_id = hit[1]
            continue
        pending = next((pending_identity[k] for k in it.keys if k in pending_identity), None)
        if pending is None:
            pending = len(new_contacts)
            new_contacts.append(
                {"name": it.message.sender.name, **stamp["contacts"]}
            )
        elif new_contacts[pending]["name"] is None:
            new_contacts[pending]["name"] = it.message.sender.name
        it.new_contact = pending
        for k in it.keys:
            pending_identity.setdefault(k, pending)

    if new_contacts:
        created = await session.execute(sql.insert_contacts, new_contacts)
        contact_ids = [row[0] for row in created]
        for it in items:
            if it.new_contact is not None:
                it.contact_id = contact_ids[it.new_contact]
        for contact_id in contact_ids:
            events.append(Event(ev.CONTACT_CREATED, contact_id=contact_id, occurred_at=now))

    # Link every identity of the sender that no one holds yet to the resolved contact.
    to_link: dict[tuple[str, str], int] = {}
    for it in items:
        assert it.contact_id is not None
        for k in it.keys:
            if k not in known:
                to_link.setdefault(k, it.contact_id)
    if to_link:
        linked = await session.execute(
            sql.insert_identities,
            [
                {"kind": k, "address": a, "contact_id": c, **stamp["contact_identities"]}
                for (k, a), c in to_link.items()
            ],
        )
        for new_kind, new_address, new_identity_id in linked:
            known[(new_kind, new_address)] = (new_identity_id, to_link[(new_kind, new_address)])
    for it in items:
        it.identity_id = known[it.keys[0]][0]

    # A known contact without a name takes the name the sender gives now.
    named = {
        it.contact_id: it.message.sender.name
        for it in items
        if it.new_contact is None and it.contact_id in nameless and it.message.sender.name
    }
    if named:
        await session.execute(
            sql.name_contacts, [{"cid": cid, "new_name": name, "at": now} for cid, name in named.items()]
        )


def _thread_keys(message: InboundMessage) -> list[str]:
    keys = list(message.thread.references)
    if message.thread.key and message.thread.key not in keys:
        keys.append(message.thread.key)
    return keys


async def _thread(
    session: AsyncSession,
    sql: IngestStatements,
    items: list[_Pending],
    now: datetime,
    stamp: dict[str, dict[str, Any]],
    events: list[Event],
) -> None:
    # conversation id -> (queue id, assignee id) of every existing conversation found
    scope: dict[int, tuple[int | None, int | None]] = {}
    wanted_keys = {(it.endpoint.channel_id, k) for it in items for k in _thread_keys(it.message)}
    by_key: dict[tuple[int, str], int] = {}
    if wanted_keys:
        key_rows = await session.execute(
            sql.find_thread_keys,
            {"channels": list({c for c, _ in wanted_keys}), "keys": list({k for _, k in wanted_keys})},
        )
        for key_channel, key, conversation_id, queue_id, assignee_id in key_rows:
            if (key_channel, key) in wanted_keys:
                by_key[(key_channel, key)] = conversation_id
                scope[conversation_id] = (queue_id, assignee_id)

    # Conversations named by an adapter-verified token (email subject token): of the same
    # channel, or of one this channel continues (a web chat answered by email).
    named_ids = {it.message.thread.conversation_id for it in items if it.message.thread.conversation_id}
    named: dict[int, int] = {}  # conversation id -> channel id
    if named_ids:
        for conversation_id, channel_id, queue_id, assignee_id in await session.execute(
            sql.find_conversations, {"ids": sorted(named_ids)}
        ):
            named[conversation_id] = channel_id
            scope[conversation_id] = (queue_id, assignee_id)

    pairs = {
        (it.contact_id, it.endpoint.channel_id)
        for it in items
        if it.new_contact is None and it.message.thread.join_open
    }
    open_by_pair: dict[tuple[int | None, int], int] = {}
    if pairs:
        open_rows = await session.execute(
            sql.find_open,
            {"contacts": list({c for c, _ in pairs}), "channels": list({ch for _, ch in pairs})},
        )
        for open_contact, open_channel, conversation_id, queue_id, assignee_id in open_rows:
            if (open_contact, open_channel) in pairs:
                open_by_pair[(open_contact, open_channel)] = conversation_id  # the newest wins
                scope[conversation_id] = (queue_id, assignee_id)

    new_conversations: list[dict[str, Any]] = []
    pending_by_key: dict[tuple[int, str], int] = {}
    pending_by_pair: dict[tuple[int | None, int], int] = {}
    new_keys: dict[tuple[int, str], _Pending] = {}
    for it in items:
        channel_id = it.endpoint.channel_id
        keys = [(channel_id, k) for k in _thread_keys(it.message)]
        pair = (it.contact_id, channel_id)
        existing = next((by_key[k] for k in keys if k in by_key), None)
        pending = next((pending_by_key[k] for k in keys if k in pending_by_key), None)
        token = it.message.thread.conversation_id
        continuable = token is not None and token in named and (
            named[token] == channel_id or named[token] in it.endpoint.continues
        )
        if existing is None and pending is None and continuable:
            existing = token
        join_open = it.message.thread.join_open and not it.message.thread.references
        if existing is None and pending is None and join_open:
            existing = open_by_pair.get(pair)
            pending = pending_by_pair.get(pair)
        if existing is not None:
            it.conversation_id = existing
            it.queue_id, it.assignee_id = scope[existing]
        elif pending is not None:
            it.new_conversation = pending
        else:
            it.new_conversation = len(new_conversations)
            if join_open:
                pending_by_pair[pair] = it.new_conversation
            new_conversations.append(
                {
                    "contact_id": it.contact_id,
                    "identity_id": it.identity_id,
                    "channel_id": channel_id,
                    "queue_id": it.endpoint.queue_id,
                    "status": "open",
                    "priority": 1,
                    "subject": (it.message.subject or None) and it.message.subject[:500],
                    **stamp["conversations"],
                }
            )
        if it.new_conversation is not None:
            it.queue_id = it.endpoint.queue_id
            for k in keys:
                pending_by_key.setdefault(k, it.new_conversation)
        if it.message.thread.key:
            key = (channel_id, it.message.thread.key)
            if key not in by_key:
                new_keys.setdefault(key, it)

    if new_conversations:
        opened = await session.execute(sql.insert_conversations, new_conversations)
        conversation_ids = [row[0] for row in opened]
        for it in items:
            if it.new_conversation is not None:
                it.conversation_id = conversation_ids[it.new_conversation]
        for index, conversation_id in enumerate(conversation_ids):
            row = new_conversations[index]
            events.append(
                Event(
                    ev.CONVERSATION_CREATED,
                    conversation_id=conversation_id,
                    contact_id=row["contact_id"],
                    queue_id=row["queue_id"],
                    data={"channel_id": row["channel_id"], "status": "open"},
                    occurred_at=now,
                )
            )
    if new_keys:
        await session.execute(
            sql.insert_thread_keys,
            [{"channel_id": c, "key": k, "conversation_id": it.conversation_id} for (c, k), it in new_keys.items()],
        )


def attachment_row(message_id: int, digest: str, attachment: Attachment) -> dict[str, Any]:
    """The ``attachments`` row of ``attachment``, stored in the blob store under ``digest``."""
    return {
        "message_id": message_id,
        "blob_sha256": digest,
        "filename": attachment.filename[:255],
        "content_type": attachment.content_type[:255],
        "content_id": attachment.content_id,
        "size": len(attachment.content),
    }


async def _store(
    session: AsyncSession,
    sql: IngestStatements,
    items: list[_Pending],
    blobs: BlobStore,
    now: datetime,
    stamp: dict[str, dict[str, Any]],
    events: list[Event],
) -> None:
    rows = [
        {
            "conversation_id": it.conversation_id,
            "channel_id": it.endpoint.channel_id,
            "direction": "in",
            "private": False,
            "text": it.message.text,
            "html": sanitize_html(it.message.html) if it.message.html else None,
            "subject": it.message.subject[:500] if it.message.subject else None,
            "provider_message_id": it.message.provider_message_id,
            "edit_of": it.message.edit_of,
            "status": "received",
            "quote_start": it.message.quote_start,
            "auto_submitted": it.message.auto_submitted,
            "created_at_stamp": (
                stamp["messages"]["created_at_stamp"]
                if it.message.received_at is None
                else sql.stamp(it.message.received_at)
            ),
        }
        for it in items
    ]
    inserted = await session.execute(sql.insert_messages, rows)
    by_key = {(channel_id, provider_id): message_id for channel_id, provider_id, message_id in inserted}
    message_ids = [by_key[(it.endpoint.channel_id, it.message.provider_message_id)] for it in items]

    attachment_rows: list[dict[str, Any]] = []
    blob_rows: dict[str, int] = {}
    for it, message_id in zip(items, message_ids, strict=True):
        for att in it.message.attachments:
            digest = await blobs.put(att.content)
            blob_rows[digest] = len(att.content)
            attachment_rows.append(attachment_row(message_id, digest, att))
    if blob_rows:
        await insert_ignore(session, Blob, [{"sha256": d, "size": s, "created_at": now} for d, s in blob_rows.items()])
        await session.execute(sql.insert_attachments, attachment_rows)

    # Conversations opened by this batch already look like this; the others wake up,
    # except for machine-written mail (an out-of-office reply reopens nothing).
    earlier = [it for it in items if it.new_conversation is None and it.conversation_id is not None]
    touched = sorted({it.conversation_id for it in earlier if it.message.auto_submitted is None and it.conversation_id})
    if touched:
        await session.execute(sql.touch_conversations, {"ids": touched, "at": now})
    quiet = sorted(
        {it.conversation_id for it in earlier if it.message.auto_submitted is not None and it.conversation_id}
        - set(touched)
    )
    if quiet:
        await session.execute(sql.note_activity, {"ids": quiet, "at": now})
    await session.execute(
        sql.insert_timeline,
        [
            {
                "contact_id": it.contact_id,
                "conversation_id": it.conversation_id,
                "channel_id": it.endpoint.channel_id,
                "kind": "message_in",
                "actor_user_id": None,
                "message_id": message_id,
                **stamp["timeline_entries"],
            }
            for it, message_id in zip(items, message_ids, strict=True)
        ],
    )
    for it, message_id in zip(items, message_ids, strict=True):
        assert it.conversation_id is not None and it.contact_id is not None
        it.result = IngestResult(message_id, it.conversation_id, it.contact_id, duplicate=False)
        events.append(
            Event(
                ev.MESSAGE_RECEIVED,
                conversation_id=it.conversation_id,
                contact_id=it.contact_id,
                queue_id=it.queue_id,
                user_id=it.assignee_id,
                data={"message_id": message_id, "channel": it.endpoint.name},
                occurred_at=now,
            )
        )
