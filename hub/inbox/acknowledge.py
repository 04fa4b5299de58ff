"""Automatic acknowledgements, written in the ingest transaction that opened the conversation.

A channel asks for one by putting an ``Acknowledgement`` on the inbound message
(email: ``auto_acknowledge``). It becomes an outbound message (``auto_submitted =
"auto_reply"``, no author) with its outbox row in the same transaction as the
customer's message: sent exactly once, never lost. None is written for
machine-written mail, for a contact whose processing is restricted (DSGVO Art. 18),
or when the contact got one within the acknowledgement's ``min_interval`` (a
safety net against loops that the machine detection missed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.db.models import Contact, Conversation, Message, OutboxItem, TimelineEntry
from hub.events import Event
from hub.messages import Acknowledgement

AUTO_REPLY = "auto_reply"


@dataclass(frozen=True, slots=True)
class Opened:
    """A conversation a batch opened with a message that asked for an acknowledgement."""

    conversation_id: int
    contact_id: int
    channel_id: int
    channel: str
    queue_id: int | None
    acknowledgement: Acknowledgement


async def acknowledge(session: AsyncSession, opened: Sequence[Opened], now: datetime) -> list[Event]:
    """Queue the acknowledgements of ``opened`` (one per contact); returns their events."""
    if not opened:
        return []
    contact_ids = sorted({o.contact_id for o in opened})
    restricted = set(
        (
            await session.scalars(
                select(Contact.id).where(Contact.id.in_(contact_ids), Contact.restricted_at.is_not(None))
            )
        ).all()
    )
    longest = max(o.acknowledgement.min_interval for o in opened)
    recent = dict(
        (
            await session.execute(
                select(Conversation.contact_id, func.max(Message.created_at))
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.contact_id.in_(contact_ids),
                    Message.direction == "out",
                    Message.auto_submitted == AUTO_REPLY,
                    Message.created_at >= now - longest,
                )
                .group_by(Conversation.contact_id)
            )
        ).all()
    )
    chosen: dict[int, Opened] = {}
    for item in opened:
        last = recent.get(item.contact_id)
        if item.contact_id in restricted or item.contact_id in chosen:
            continue
        if last is not None and last >= now - item.acknowledgement.min_interval:
            continue
        chosen[item.contact_id] = item
    events: list[Event] = []
    for item in chosen.values():
        message_id = (
            await session.execute(
                insert(Message)
                .values(
                    conversation_id=item.conversation_id,
                    channel_id=item.channel_id,
                    direction="out",
                    private=False,
                    author_user_id=None,
                    text=item.acknowledgement.text,
                    status="queued",
                    auto_submitted=AUTO_REPLY,
                    created_at=now,
                )
                .returning(Message.id)
            )
        ).scalar_one()
        await session.execute(
            insert(OutboxItem).values(
                message_id=message_id, channel_id=item.channel_id, state="pending", attempts=0,
                next_attempt_at=now, created_at=now, updated_at=now,
            )
        )
        await session.execute(
            insert(TimelineEntry).values(
                contact_id=item.contact_id, conversation_id=item.conversation_id, channel_id=item.channel_id,
                kind="message_out", actor_user_id=None, message_id=message_id, occurred_at=now,
                data={"automatic": True},
            )
        )
        events.append(
            Event(
                ev.MESSAGE_CREATED,
                conversation_id=item.conversation_id,
                contact_id=item.contact_id,
                queue_id=item.queue_id,
                data={
                    "message_id": message_id, "private": False, "status": "queued", "author_user_id": None,
                    "channel": item.channel, "automatic": True,
                },
                occurred_at=now,
            )
        )
    return events
