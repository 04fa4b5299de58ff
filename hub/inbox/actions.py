"""Agent actions on a conversation: reply, private note, assign, status.

Each action runs in one transaction (``services.transaction()``), checks that the
principal may see the conversation (an invisible one reads as 404), appends to the
contact's timeline and emits its domain event; the event is published after commit.
A reply and its outbox row commit together, so an accepted reply is never lost and
the dispatcher (``hub.inbox.outbox``) sends it. Private notes never enter the outbox,
nor does a reply the channel delivers live (``ChannelAdapter.delivers_live``: a client
in this process reads it from the event bus): it is stored as ``sent`` at once, one
write transaction instead of three.

``reply`` also runs inside a caller's unit (``unit=``), so that the Idempotency-Key
row of the request commits in the same transaction as the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.auth.policy import ensure_conversation_visible
from hub.auth.principal import Principal, Role
from hub.channels.base import ChannelAdapter
from hub.crm_link.consent import consent_channel_of, ensure_outbound_allowed
from hub.db.models import (
    Blob,
    Conversation,
    Message,
    MessageAttachment,
    OutboxItem,
    TimelineEntry,
    User,
    utcnow,
)
from hub.db.upsert import insert_ignore
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.events import Event
from hub.inbox import outbound_rules
from hub.inbox.ingest import attachment_row
from hub.messages import Attachment, Template
from hub.services import Endpoint, Services, Unit
from hub.validation import ensure_storable

STATUSES = ("open", "pending", "snoozed", "resolved")
NOTE_STATUS = "note"  # the status of a private note: stored, never sent
MAX_BODY_LENGTH = 100_000


class AnyAssignee:
    """``assign(expect=...)``'s default: whoever holds the conversation now."""


ANY_ASSIGNEE = AnyAssignee()


def endpoint_by_id(services: Services, channel_id: int) -> Endpoint | None:
    """The configured endpoint with ``channel_id``, or None when the config no longer has it."""
    for endpoint in services.endpoints.values():
        if endpoint.channel_id == channel_id:
            return endpoint
    return None


def conversation_event(
    type_: str, conversation: Conversation, data: dict[str, Any], occurred_at: datetime
) -> Event:
    """An event scoped to ``conversation`` (its queue and its assignee after the change)."""
    return Event(
        type_,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        queue_id=conversation.queue_id,
        user_id=conversation.assignee_id,
        data=data,
        occurred_at=occurred_at,
    )


async def load_conversation(session: AsyncSession, principal: Principal | None, conversation_id: int) -> Conversation:
    """The conversation, row-locked for the transaction on PostgreSQL; 404 unless visible.

    ``FOR NO KEY UPDATE``: serializes changes to the row but lets concurrent ingests
    insert messages that reference it. ``principal`` None is the hub itself (routing),
    which sees every conversation.
    """
    conversation = (
        await session.execute(
            select(Conversation).where(Conversation.id == conversation_id).with_for_update(key_share=True)
        )
    ).scalar_one_or_none()
    if principal is None:
        if conversation is None:
            raise NotFound("no such conversation")
        return conversation
    return ensure_conversation_visible(principal, conversation)


def _timeline(
    conversation: Conversation, kind: str, principal: Principal | None, now: datetime,
    *, message_id: int | None = None, data: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry(
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        channel_id=conversation.channel_id,
        kind=kind,
        actor_user_id=principal.user_id if principal is not None else None,
        message_id=message_id,
        occurred_at=now,
        data=data or {},
    )


async def reply(
    services: Services,
    principal: Principal,
    conversation_id: int,
    body: str,
    *,
    private: bool,
    adapters: Mapping[str, ChannelAdapter],
    unit: Unit | None = None,
    now: datetime | None = None,
    attachments: Sequence[Attachment] = (),
    template: Template | None = None,
    tag: str | None = None,
) -> Message:
    """Store a reply (queued for sending through the outbox, or sent when the channel
    delivers it live) or a private note; return it.

    Raises Conflict when the conversation's channel cannot send or its reply window
    has closed, ``OutboundRefused`` (a 409 with a ``code``) when the contact withdrew
    consent or is restricted, and ValidationFailed when the reply is empty or the
    channel cannot carry it (see ``hub.inbox.outbound_rules``). A ``template``
    replaces free text on channels that send approved templates; ``tag`` lets a reply
    out after the window.
    """
    draft = _Draft(body, tuple(attachments), template, tag)
    if unit is None:
        async with services.transaction() as own:
            return await _reply(own, services, principal, conversation_id, draft, private, adapters, now)
    return await _reply(unit, services, principal, conversation_id, draft, private, adapters, now)


@dataclass(frozen=True)
class _Draft:
    body: str
    attachments: tuple[Attachment, ...]
    template: Template | None
    tag: str | None

    def send_options(self) -> dict[str, Any] | None:
        if self.template is not None:
            t = self.template
            return {"template": {"name": t.name, "language": t.language, "parameters": list(t.parameters)}}
        if self.tag is not None:
            return {"tag": self.tag}
        return None

    def text(self) -> str:
        if self.body.strip() or self.template is None:
            return self.body
        t = self.template
        return f"[template {t.name} ({t.language})]" + (": " + " · ".join(t.parameters) if t.parameters else "")


async def _reply(
    unit: Unit,
    services: Services,
    principal: Principal,
    conversation_id: int,
    draft: _Draft,
    private: bool,
    adapters: Mapping[str, ChannelAdapter],
    now: datetime | None,
) -> Message:
    session = unit.session
    now = now or utcnow()
    conversation = await load_conversation(session, principal, conversation_id)
    body = draft.body
    if not body.strip() and not draft.attachments and draft.template is None:
        raise ValidationFailed("the message body is empty")
    ensure_storable(body=body, **{f"attachments[{i}].filename": a.filename for i, a in enumerate(draft.attachments)})
    if len(body) > MAX_BODY_LENGTH:
        raise ValidationFailed(f"the message body is longer than {MAX_BODY_LENGTH} characters")
    endpoint = endpoint_by_id(services, conversation.channel_id)
    live = False
    if private:
        if draft.template is not None or draft.tag is not None:
            raise ValidationFailed("a private note is never sent: it takes no template or message tag")
    else:
        adapter = adapters.get(endpoint.name) if endpoint is not None else None
        if adapter is None:
            raise Conflict("this conversation's channel is no longer configured; replies cannot be sent")
        if not adapter.can_send:
            raise Conflict(
                f"channel {adapter.name!r} cannot send replies (no outbound destination configured); "
                "write a private note instead"
            )
        capabilities = adapter.capabilities
        last_inbound = (
            await outbound_rules.last_inbound_at(session, conversation)
            if capabilities.reply_window is not None
            else None
        )
        outbound_rules.check_reply(
            capabilities, adapter.name, text=body, attachments=draft.attachments,
            template=draft.template, tag=draft.tag, last_inbound_at=last_inbound, now=now,
        )
        adapter.check_outbound(text=body, template=draft.template)
        # Consent withdrawn or processing restricted: a 409 the UI shows, before anything is stored.
        await ensure_outbound_allowed(session, conversation.contact_id, consent_channel_of(adapter))
        live = adapter.delivers_live(conversation.id)

    message = Message(
        conversation_id=conversation.id,
        channel_id=conversation.channel_id,
        direction="out",
        private=private,
        author_user_id=principal.user_id,
        text=draft.text(),
        status=NOTE_STATUS if private else ("sent" if live else "queued"),
        created_at=now,
        sent_at=now if live else None,
        send_options=draft.send_options(),
    )
    session.add(message)
    await session.flush()
    await _store_attachments(services, session, message.id, draft.attachments, now)
    if not private:
        if not live:
            session.add(
                OutboxItem(
                    message_id=message.id,
                    channel_id=conversation.channel_id,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        if conversation.first_response_at is None:
            conversation.first_response_at = now
        conversation.waiting_since = None
        conversation.last_message_at = now
    conversation.updated_at = now
    session.add(_timeline(conversation, "note" if private else "message_out", principal, now, message_id=message.id))
    await session.flush()
    unit.emit(
        conversation_event(
            ev.MESSAGE_CREATED,
            conversation,
            {
                "message_id": message.id,
                "private": private,
                "status": message.status,
                "author_user_id": principal.user_id,
                "channel": endpoint.name if endpoint is not None else None,
            },
            now,
        )
    )
    return message


async def _store_attachments(
    services: Services, session: AsyncSession, message_id: int, attachments: Sequence[Attachment], now: datetime
) -> None:
    if not attachments:
        return
    rows: list[dict[str, Any]] = []
    blobs: dict[str, int] = {}
    for item in attachments:
        digest = await services.blobs.put(item.content)
        blobs[digest] = len(item.content)
        rows.append(attachment_row(message_id, digest, item))
    await insert_ignore(session, Blob, [{"sha256": d, "size": n, "created_at": now} for d, n in blobs.items()])
    await session.execute(insert(MessageAttachment), rows)


async def assign(
    services: Services,
    principal: Principal | None,
    conversation_id: int,
    agent_id: int | None,
    *,
    now: datetime | None = None,
    unit: Unit | None = None,
    expect: int | None | AnyAssignee = ANY_ASSIGNEE,
    reason: str | None = None,
) -> Conversation:
    """Assign the conversation to ``agent_id`` (None: unassign) and return it.

    Agents may take a conversation they see when it is unassigned (409 when a
    colleague holds it) and may unassign themselves; supervisors and admins assign
    any active user. Assigning the current assignee again changes nothing.

    ``principal`` None is the hub itself (routing): no role checks, no actor. ``expect``
    (routing) makes it a compare-and-set: 409 unless the current assignee is that one.
    ``reason`` (e.g. ``routed``, ``offer_accepted``, ``requeued``) goes into the event.
    ``unit`` runs it inside the caller's transaction.
    """
    now = now or utcnow()
    if unit is None:
        async with services.transaction() as own:
            return await _assign(own, principal, conversation_id, agent_id, now, expect, reason)
    return await _assign(unit, principal, conversation_id, agent_id, now, expect, reason)


async def _assign(
    unit: Unit,
    principal: Principal | None,
    conversation_id: int,
    agent_id: int | None,
    now: datetime,
    expect: int | None | AnyAssignee,
    reason: str | None,
) -> Conversation:
    session = unit.session
    conversation = await load_conversation(session, principal, conversation_id)
    previous = conversation.assignee_id
    if not isinstance(expect, AnyAssignee) and previous != expect:
        raise Conflict("the conversation's assignee changed meanwhile")
    if principal is not None and principal.role is Role.AGENT:
        if agent_id is not None and agent_id != principal.user_id:
            raise Forbidden("agents may only assign conversations to themselves")
        if agent_id is None and previous not in (None, principal.user_id):
            raise Forbidden("agents may only unassign themselves")
        if agent_id is not None and previous not in (None, agent_id):
            raise Conflict("the conversation is assigned to someone else; ask a supervisor to reassign it")
    if (principal is None or principal.role is not Role.AGENT) and agent_id is not None:
        user = await session.get(User, agent_id)
        if user is None or not user.active:
            raise ValidationFailed(f"there is no active user with id {agent_id}")
    if previous == agent_id:
        return conversation
    # Compare-and-set: SQLite reads outside the write lock, so the update re-checks.
    unchanged = (
        Conversation.assignee_id.is_(None) if previous is None else Conversation.assignee_id == previous
    )
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, unchanged)
            .values(assignee_id=agent_id, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise Conflict("the conversation was reassigned meanwhile; reload it and try again")
    await session.refresh(conversation)
    session.add(_timeline(conversation, "assigned", principal, now, data={"from": previous, "to": agent_id}))
    data: dict[str, Any] = {
        "previous_assignee_id": previous,
        "assignee_id": agent_id,
        "by_user_id": principal.user_id if principal is not None else None,
    }
    if reason is not None:
        data["reason"] = reason
    unit.emit(conversation_event(ev.CONVERSATION_ASSIGNED, conversation, data, now))
    return conversation


async def set_status(
    services: Services,
    principal: Principal,
    conversation_id: int,
    status: str,
    until: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Conversation:
    """Move the conversation to ``status``; ``snoozed`` needs a future ``until``.

    Resolving stamps ``resolved_at``; moving away from resolved clears it; leaving
    snoozed clears ``snoozed_until``. Setting the current state again changes nothing.
    """
    now = now or utcnow()
    if status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}")
    if status == "snoozed":
        if until is None:
            raise ValidationFailed("snoozing needs 'until', the time to wake the conversation up")
        if until.tzinfo is None:
            raise ValidationFailed("'until' needs a time-zone offset, e.g. 2030-01-31T09:00:00+01:00")
        if until <= now:
            raise ValidationFailed("'until' must lie in the future")
    elif until is not None:
        raise ValidationFailed("'until' is only allowed with status 'snoozed'")

    async with services.transaction() as unit:
        session = unit.session
        conversation = await load_conversation(session, principal, conversation_id)
        previous = conversation.status
        if previous == status and (status != "snoozed" or conversation.snoozed_until == until):
            return conversation
        conversation.status = status
        conversation.updated_at = now
        conversation.snoozed_until = until if status == "snoozed" else None
        if status == "resolved":
            if previous != "resolved":
                conversation.resolved_at = now
        else:
            conversation.resolved_at = None
        data: dict[str, Any] = {"from": previous, "to": status}
        if until is not None:
            data["until"] = until.isoformat()
        session.add(_timeline(conversation, "status_changed", principal, now, data=data))
        await session.flush()
        unit.emit(
            conversation_event(
                ev.CONVERSATION_STATUS_CHANGED,
                conversation,
                {
                    "previous": previous,
                    "status": status,
                    "snoozed_until": until.isoformat() if until is not None else None,
                    "by_user_id": principal.user_id,
                },
                now,
            )
        )
    return conversation
