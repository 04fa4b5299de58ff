"""Ingest: normalized inbound messages become stored, threaded conversation messages.

``ingest_batch`` does the work for many messages in one transaction; the batcher
(``hub.inbox.batcher``) feeds it concurrent requests so that one commit serves many
(group commit). For each message, in order:

1. dedupe on (channel, provider message id): a replay returns the stored message;
2. resolve the contact by any of the sender's identities, else create one;
3. thread: a known thread key or reference, else the contact's open conversation on
   that channel, else a new conversation in the channel's queue;
4. store message and attachments, touch the conversation, append to the timeline,
   and emit events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.blobs import BlobStore
from hub.db.models import (
    Blob,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    MessageAttachment,
    ThreadKey,
    TimelineEntry,
)
from hub.db.upsert import insert_ignore
from hub.events import Event
from hub.inbox.html import sanitize_html
from hub.messages import InboundMessage
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
    items = [_Pending(message=m, endpoint=endpoints[m.channel]) for m in messages]
    await _dedupe(session, items)
    fresh = [it for it in items if it.result is None and it.duplicate_of is None]
    events: list[Event] = []
    if fresh:
        await _resolve_contacts(session, fresh, now, events)
        await _thread(session, fresh, now, events)
        await _store(session, fresh, blobs, now, events)
    for it in items:
        if it.duplicate_of is not None:
            first = items[it.duplicate_of].result
            assert first is not None
            it.result = IngestResult(first.message_id, first.conversation_id, first.contact_id, True)
    return [it.result for it in items if it.result is not None], events


async def _dedupe(session: AsyncSession, items: list[_Pending]) -> None:
    first_index: dict[tuple[int, str], int] = {}
    for index, it in enumerate(items):
        key = (it.endpoint.channel_id, it.message.provider_message_id)
        if key in first_index:
            it.duplicate_of = first_index[key]
        else:
            first_index[key] = index
    stored = await session.execute(
        select(Message.id, Message.conversation_id, Message.channel_id, Message.provider_message_id, Conversation.contact_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(tuple_(Message.channel_id, Message.provider_message_id).in_(list(first_index)))
    )
    for message_id, conversation_id, channel_id, provider_id, contact_id in stored:
        items[first_index[(channel_id, provider_id or "")]].result = IngestResult(
            message_id, conversation_id, contact_id, duplicate=True
        )


async def _resolve_contacts(session: AsyncSession, items: list[_Pending], now: datetime, events: list[Event]) -> None:
    wanted = {(i.kind.value, i.address) for it in items for i in it.message.sender.identities}
    known: dict[tuple[str, str], tuple[int, int]] = {}  # identity -> (identity id, contact id)
    identity_rows = await session.execute(
        select(ContactIdentity.kind, ContactIdentity.address, ContactIdentity.id, ContactIdentity.contact_id).where(
            tuple_(ContactIdentity.kind, ContactIdentity.address).in_(list(wanted))
        )
    )
    for kind, address, identity_id, contact_id in identity_rows:
        known[(kind, address)] = (identity_id, contact_id)

    new_contacts: list[dict[str, Any]] = []
    pending_identity: dict[tuple[str, str], int] = {}  # identity -> new-contact index
    for it in items:
        keys = [(i.kind.value, i.address) for i in it.message.sender.identities]
        hit = next((known[k] for k in keys if k in known), None)
        if hit is not None:
            it.contact_id = hit[1]
            continue
        pending = next((pending_identity[k] for k in keys if k in pending_identity), None)
        if pending is None:
            pending = len(new_contacts)
            new_contacts.append({"name": it.message.sender.name, "attributes": {}, "created_at": now, "updated_at": now})
        elif new_contacts[pending]["name"] is None:
            new_contacts[pending]["name"] = it.message.sender.name
        it.new_contact = pending
        for k in keys:
            pending_identity.setdefault(k, pending)

    if new_contacts:
        created = await session.execute(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), new_contacts
        )
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
        for k in ((i.kind.value, i.address) for i in it.message.sender.identities):
            if k not in known:
                to_link.setdefault(k, it.contact_id)
    if to_link:
        linked = await session.execute(
            insert(ContactIdentity).returning(
                ContactIdentity.kind, ContactIdentity.address, ContactIdentity.id, sort_by_parameter_order=True
            ),
            [{"kind": k, "address": a, "contact_id": c, "created_at": now} for (k, a), c in to_link.items()],
        )
        for new_kind, new_address, new_identity_id in linked:
            known[(new_kind, new_address)] = (new_identity_id, to_link[(new_kind, new_address)])
    for it in items:
        primary = it.message.sender.identities[0]
        it.identity_id = known[(primary.kind.value, primary.address)][0]
    await _fill_missing_names(session, items)


async def _fill_missing_names(session: AsyncSession, items: list[_Pending]) -> None:
    """A known contact without a name takes the name the sender gives now."""
    named = {it.contact_id: it.message.sender.name for it in items if it.new_contact is None and it.message.sender.name}
    if not named:
        return
    for contact_id, name in named.items():
        await session.execute(
            update(Contact).where(Contact.id == contact_id, Contact.name.is_(None)).values(name=name)
        )


def _thread_keys(message: InboundMessage) -> list[str]:
    keys = list(message.thread.references)
    if message.thread.key and message.thread.key not in keys:
        keys.append(message.thread.key)
    return keys


async def _thread(session: AsyncSession, items: list[_Pending], now: datetime, events: list[Event]) -> None:
    wanted_keys = {(it.endpoint.channel_id, k) for it in items for k in _thread_keys(it.message)}
    by_key: dict[tuple[int, str], int] = {}
    if wanted_keys:
        key_rows = await session.execute(
            select(ThreadKey.channel_id, ThreadKey.key, ThreadKey.conversation_id).where(
                tuple_(ThreadKey.channel_id, ThreadKey.key).in_(list(wanted_keys))
            )
        )
        by_key = {(key_channel, key): key_conversation for key_channel, key, key_conversation in key_rows}

    pairs = {(it.contact_id, it.endpoint.channel_id) for it in items if it.new_contact is None}
    open_by_pair: dict[tuple[int | None, int], int] = {}
    if pairs:
        open_rows = await session.execute(
            select(Conversation.contact_id, Conversation.channel_id, Conversation.id)
            .where(tuple_(Conversation.contact_id, Conversation.channel_id).in_(list(pairs)))
            .where(Conversation.status != "resolved")
            .order_by(Conversation.last_message_at)
        )
        for open_contact, open_channel, open_conversation in open_rows:
            open_by_pair[(open_contact, open_channel)] = open_conversation  # the newest wins

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
        if existing is None and pending is None and not it.message.thread.references:
            existing = open_by_pair.get(pair)
            pending = pending_by_pair.get(pair)
        if existing is not None:
            it.conversation_id = existing
        elif pending is not None:
            it.new_conversation = pending
        else:
            it.new_conversation = len(new_conversations)
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
                    "created_at": now,
                    "updated_at": now,
                    "last_message_at": now,
                    "waiting_since": now,
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
        opened = await session.execute(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True), new_conversations
        )
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
    existing_ids = {it.conversation_id for it in items if it.new_conversation is None}
    if existing_ids:
        scope_rows = await session.execute(
            select(Conversation.id, Conversation.queue_id, Conversation.assignee_id).where(
                Conversation.id.in_(list(existing_ids))
            )
        )
        scope = {cid: (queue_id, assignee_id) for cid, queue_id, assignee_id in scope_rows}
        for it in items:
            if it.conversation_id in scope:
                it.queue_id, it.assignee_id = scope[it.conversation_id]
    if new_keys:
        await session.execute(
            insert(ThreadKey),
            [{"channel_id": c, "key": k, "conversation_id": it.conversation_id} for (c, k), it in new_keys.items()],
        )


async def _store(
    session: AsyncSession, items: list[_Pending], blobs: BlobStore, now: datetime, events: list[Event]
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
            "status": "received",
            "created_at": it.message.received_at or now,
        }
        for it in items
    ]
    inserted = await session.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), rows)
    message_ids = [row[0] for row in inserted]

    attachment_rows: list[dict[str, Any]] = []
    blob_rows: dict[str, int] = {}
    for it, message_id in zip(items, message_ids, strict=True):
        for att in it.message.attachments:
            digest = await blobs.put(att.content)
            blob_rows[digest] = len(att.content)
            attachment_rows.append(
                {
                    "message_id": message_id,
                    "blob_sha256": digest,
                    "filename": att.filename[:255],
                    "content_type": att.content_type[:255],
                    "content_id": att.content_id,
                    "size": len(att.content),
                }
            )
    if blob_rows:
        await insert_ignore(session, Blob, [{"sha256": d, "size": s, "created_at": now} for d, s in blob_rows.items()])
        await session.execute(insert(MessageAttachment), attachment_rows)

    touched: dict[int, _Pending] = {}
    for it in items:
        assert it.conversation_id is not None
        touched[it.conversation_id] = it
    conversations = Conversation.__table__
    assert isinstance(conversations, Table)
    await session.execute(
        update(conversations)
        .where(conversations.c.id == bindparam("cid"))
        .values(
            last_message_at=bindparam("at"),
            updated_at=bindparam("at"),
            status="open",
            snoozed_until=None,
            resolved_at=None,
            waiting_since=func.coalesce(conversations.c.waiting_since, bindparam("at")),
        ),
        [{"cid": cid, "at": now} for cid in touched],
    )

    await session.execute(
        insert(TimelineEntry),
        [
            {
                "contact_id": it.contact_id,
                "conversation_id": it.conversation_id,
                "channel_id": it.endpoint.channel_id,
                "kind": "message_in",
                "message_id": message_id,
                "occurred_at": now,
                "data": {},
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


