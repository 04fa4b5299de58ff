"""Typing indicators, read receipts and ratings: each a small action that emits its event.

Visitor side: typing emits ``conversation.typing`` (by visitor), reading moves the
agents' replies to ``delivered``/``read`` (``message.status_changed``), a rating is
stored once and emits ``conversation.rated``. Agent side: typing and reading emit
``conversation.typing`` / ``conversation.read`` (by agent), which the widget shows.
Typing is presence, not a change: a transient event (``hub.bus.publish_transient``),
never written to the events table that connectors and webhooks follow.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from hub import events as ev
from hub.auth.policy import ensure_conversation_visible
from hub.auth.principal import Principal
from hub.bus import publish_transient
from hub.db.models import Conversation, ConversationRating, Message, WebchatVisitor, utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.inbox.actions import conversation_event, load_conversation
from hub.inbox.statuses import allowed_from
from hub.messages import DeliveryStatus
from hub.services import Services

MAX_COMMENT_LENGTH = 2000


async def visitor_typing(services: Services, conversation_id: int, typing: bool) -> None:
    """The visitor started or stopped typing in their conversation (a transient event: never stored)."""
    async with services.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            return
        event = conversation_event(ev.CONVERSATION_TYPING, conversation, {"by": "visitor", "typing": typing}, utcnow())
    await publish_transient(services.bus, event)


async def visitor_saw(
    services: Services, conversation_ids: list[int], up_to: int, status: DeliveryStatus
) -> list[int]:
    """Move the agents' replies up to ``up_to`` to ``delivered`` or ``read``; the ids that moved."""
    if not conversation_ids:
        return []
    now = utcnow()
    moved: list[int] = []
    async with services.transaction() as unit:
        session = unit.session
        rows = (
            await session.execute(
                select(Message.id, Message.status, Message.conversation_id).where(
                    Message.conversation_id.in_(conversation_ids),
                    Message.direction == "out",
                    Message.private.is_(False),
                    Message.id <= up_to,
                    Message.status.in_(allowed_from(status)),
                )
            )
        ).all()
        conversations: dict[int, Conversation] = {}
        for message_id, previous, conversation_id in rows:
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.status == previous)
                    .values(status=status.value)
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount != 1:
                continue
            if conversation_id not in conversations:
                found = await session.get(Conversation, conversation_id)
                assert found is not None
                conversations[conversation_id] = found
            data = {"message_id": message_id, "status": status.value, "previous": previous}
            unit.emit(conversation_event(ev.MESSAGE_STATUS_CHANGED, conversations[conversation_id], data, now))
            moved.append(message_id)
    return moved


async def agent_typing(services: Services, principal: Principal, conversation_id: int, typing: bool) -> None:
    """An agent started or stopped typing a reply (404 unless they see the conversation); transient."""
    async with services.sessions() as session:
        found = await session.scalar(select(Conversation).where(Conversation.id == conversation_id))
        conversation = ensure_conversation_visible(principal, found)  # no row lock: nothing is written
        data = {"by": "agent", "user_id": principal.user_id, "typing": typing}
        event = conversation_event(ev.CONVERSATION_TYPING, conversation, data, utcnow())
    await publish_transient(services.bus, event)


async def agent_read(services: Services, principal: Principal, conversation_id: int, up_to: int) -> int:
    """An agent has read the customer's messages up to ``up_to``; returns the conversation's read mark."""
    async with services.transaction() as unit:
        session = unit.session
        conversation = await load_conversation(session, principal, conversation_id)
        newest = await session.scalar(
            select(Message.id)
            .where(Message.conversation_id == conversation.id, Message.direction == "in", Message.id <= up_to)
            .order_by(Message.id.desc())
            .limit(1)
        )
        if newest is None:
            raise ValidationFailed("the conversation has no customer message up to that id")
        await session.execute(
            update(WebchatVisitor)
            .where(
                WebchatVisitor.contact_id == conversation.contact_id,
                WebchatVisitor.channel_id == conversation.channel_id,
                (WebchatVisitor.agent_read_up_to.is_(None)) | (WebchatVisitor.agent_read_up_to < newest),
            )
            .values(agent_read_up_to=newest)
            .execution_options(synchronize_session=False)
        )
        data = {"by": "agent", "user_id": principal.user_id, "up_to_message_id": newest}
        unit.emit(conversation_event(ev.CONVERSATION_READ, conversation, data, utcnow()))
    return newest


async def rate(
    services: Services, conversation_ids: list[int], conversation_id: int, score: int, comment: str | None
) -> None:
    """Store the visitor's rating of a resolved conversation of theirs, once."""
    if conversation_id not in conversation_ids:
        raise NotFound("no such conversation")
    if comment is not None and "\x00" in comment:
        raise ValidationFailed("the comment contains a NUL character")
    now = utcnow()
    async with services.transaction() as unit:
        session = unit.session
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        if conversation.status != "resolved":
            raise Conflict("a conversation can be rated once it is resolved")
        if await session.get(ConversationRating, conversation_id) is not None:
            raise Conflict("this conversation has been rated already")
        session.add(
            ConversationRating(
                conversation_id=conversation_id,
                score=score,
                comment=(comment or "").strip()[:MAX_COMMENT_LENGTH] or None,
                created_at=now,
            )
        )
        try:
            await session.flush()
        except IntegrityError as exc:  # rated at the same moment from another tab
            raise Conflict("this conversation has been rated already") from exc
        unit.emit(conversation_event(ev.CONVERSATION_RATED, conversation, {"score": score}, now))
