"""Response shapes of the conversation API and the queries that fill them.

Handlers load rows through ``conversation_summaries`` / ``conversation_detail`` after
the policy has decided what the caller may see; these functions never widen it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationTag,
    Message,
    MessageAttachment,
    Queue,
    SlaClock,
    Tag,
    User,
)

ConversationStatus = Literal["open", "pending", "snoozed", "resolved"]
STATUSES: tuple[str, ...] = ("open", "pending", "snoozed", "resolved")


class UserRef(msgspec.Struct):
    """A user as other objects mention them."""

    id: int
    name: str


class IdentityView(msgspec.Struct):
    """One way to reach a contact: ``kind`` email, phone or platform; a normalized address."""

    id: int
    kind: str
    address: str


class ContactSummary(msgspec.Struct):
    """The contact a conversation is with."""

    id: int
    name: str | None
    identities: list[IdentityView]


class AttachmentView(msgspec.Struct):
    """Attachment metadata; ``url`` downloads the content."""

    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageView(msgspec.Struct):
    """A message: ``in`` from the customer, ``out`` to them, or a private note (never sent)."""

    id: int
    direction: Literal["in", "out"]
    private: bool
    author: UserRef | None
    text: str
    html: str | None
    subject: str | None
    status: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    attachments: list[AttachmentView]
    edit_of: int | None = None  # the message of this conversation that this one (a customer's edit) replaces
    quote_start: int | None = None  # email: where quoted earlier mail / the signature begins in ``text``
    channel: str | None = None  # the channel it came or went through (a thread can span channels)


class SlaDue(msgspec.Struct):
    """A running SLA target: ``state`` active, warning or missed; ``due_at`` when it is (was) due."""

    target: str
    policy: str
    state: str
    due_at: datetime | None


class ConversationSummary(msgspec.Struct):
    """A conversation as lists show it; ``sla`` lists its running SLA targets."""

    id: int
    status: ConversationStatus
    priority: int
    subject: str | None
    channel: str
    queue: str | None
    assignee: UserRef | None
    contact: ContactSummary
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    waiting_since: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    snoozed_until: datetime | None
    sla: list[SlaDue] = []


class ConversationDetail(ConversationSummary, kw_only=True):
    """A conversation with all its messages, oldest first."""

    messages: list[MessageView]


class ConversationPage(msgspec.Struct):
    """One page of conversations; pass ``next`` as ``cursor`` for the following page."""

    items: list[ConversationSummary]
    next: str | None


SummaryRow = tuple[Conversation, str, str | None, int | None, str | None, str | None]


def summary_query() -> Select[Conversation, str, str | None, int | None, str | None, str | None]:
    """Conversations with the names their summary shows; add WHERE / ORDER BY to it."""
    return (
        select(Conversation, Channel.name, Queue.name, User.id, User.name, Contact.name)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Queue, Queue.id == Conversation.queue_id)
        .outerjoin(User, User.id == Conversation.assignee_id)
    )


async def conversation_summaries(
    session: AsyncSession,
    rows: Sequence[SummaryRow],
) -> list[ConversationSummary]:
    """Summaries for rows of ``summary_query()``, in their order."""
    conversation_ids = [row[0].id for row in rows]
    tags = await tags_of(session, conversation_ids)
    sla = await sla_of(session, conversation_ids)
    identities = await identities_of(session, {row[0].contact_id for row in rows})
    return [
        ConversationSummary(
            id=conv.id,
            status=_status(conv.status),
            priority=conv.priority,
            subject=conv.subject,
            channel=channel,
            queue=queue,
            assignee=UserRef(user_id, user_name or "") if user_id is not None else None,
            contact=ContactSummary(conv.contact_id, contact_name, identities.get(conv.contact_id, [])),
            tags=tags.get(conv.id, []),
            created_at=conv.created_at,
            updated_at=conv.updated_at,
            last_message_at=conv.last_message_at,
            waiting_since=conv.waiting_since,
            first_response_at=conv.first_response_at,
            resolved_at=conv.resolved_at,
            snoozed_until=conv.snoozed_until,
            sla=sla.get(conv.id, []),
        )
        for conv, channel, queue, user_id, user_name, contact_name in rows
    ]


async def conversation_detail(session: AsyncSession, conversation_id: int) -> ConversationDetail | None:
    """The conversation with its messages; the caller has checked it may be seen."""
    row = (await session.execute(summary_query().where(Conversation.id == conversation_id))).first()
    if row is None:
        return None
    (summary,) = await conversation_summaries(session, [row])
    messages = await messages_of(session, conversation_id)
    fields = {f: getattr(summary, f) for f in summary.__struct_fields__}
    return ConversationDetail(**fields, messages=messages)


async def messages_of(session: AsyncSession, conversation_id: int) -> list[MessageView]:
    """Every message of a conversation, oldest first, with authors and attachment metadata."""
    rows = (
        await session.execute(
            select(Message, User.name, Channel.name)
            .outerjoin(User, User.id == Message.author_user_id)
            .join(Channel, Channel.id == Message.channel_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    ).all()
    attachments = await attachment_views(session, [m.id for m, _, _ in rows])
    by_provider_id = {m.provider_message_id: m.id for m, _, _ in rows if m.provider_message_id is not None}
    return [
        MessageView(
            id=m.id,
            direction="out" if m.direction == "out" else "in",
            private=m.private,
            author=UserRef(m.author_user_id, author_name or "") if m.author_user_id is not None else None,
            text=m.text,
            html=m.html,
            subject=m.subject,
            status=m.status,
            error=m.error,
            created_at=m.created_at,
            sent_at=m.sent_at,
            attachments=attachments.get(m.id, []),
            edit_of=by_provider_id.get(m.edit_of) if m.edit_of is not None else None,
            quote_start=m.quote_start,
            channel=channel_name,
        )
        for m, author_name, channel_name in rows
    ]


async def attachment_views(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, list[AttachmentView]]:
    """Attachment metadata per message, in the order they were stored."""
    out: dict[int, list[AttachmentView]] = defaultdict(list)
    if not message_ids:
        return out
    found = await session.scalars(
        select(MessageAttachment)
        .where(MessageAttachment.message_id.in_(list(message_ids)))
        .order_by(MessageAttachment.id)
    )
    for att in found:
        out[att.message_id].append(
            AttachmentView(att.id, att.filename, att.content_type, att.size, f"/api/v1/attachments/{att.id}")
        )
    return out


async def tags_of(session: AsyncSession, conversation_ids: Sequence[int]) -> dict[int, list[str]]:
    """Tag names per conversation, sorted."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(ConversationTag.conversation_id, Tag.name)
        .join(Tag, Tag.id == ConversationTag.tag_id)
        .where(ConversationTag.conversation_id.in_(list(conversation_ids)))
        .order_by(Tag.name)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for conversation_id, name in rows:
        out[conversation_id].append(name)
    return out


async def sla_of(session: AsyncSession, conversation_ids: Sequence[int]) -> dict[int, list[SlaDue]]:
    """Running SLA targets per conversation, soonest due first."""
    if not conversation_ids:
        return {}
    found = await session.scalars(
        select(SlaClock)
        .where(SlaClock.conversation_id.in_(list(conversation_ids)), SlaClock.running.is_(True))
        .order_by(SlaClock.due_at)
    )
    out: dict[int, list[SlaDue]] = defaultdict(list)
    for clock in found:
        out[clock.conversation_id].append(SlaDue(clock.target, clock.policy, clock.state, clock.due_at))
    return out


async def identities_of(session: AsyncSession, contact_ids: set[int]) -> dict[int, list[IdentityView]]:
    """Identities per contact, oldest first."""
    if not contact_ids:
        return {}
    found = await session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id.in_(sorted(contact_ids)))
        .order_by(ContactIdentity.id)
    )
    out: dict[int, list[IdentityView]] = defaultdict(list)
    for identity in found:
        out[identity.contact_id].append(IdentityView(identity.id, identity.kind, identity.address))
    return out


def _status(value: str) -> ConversationStatus:
    if value == "pending":
        return "pending"
    if value == "snoozed":
        return "snoozed"
    if value == "resolved":
        return "resolved"
    return "open"
