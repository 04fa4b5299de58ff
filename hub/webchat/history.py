"""What a visitor may read: their conversations on the channel, without private notes.

Agents' replies show the author's name; internal notes never leave this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, ConversationRating, Message, MessageAttachment, User

HISTORY_LIMIT = 200


_COLUMNS = (
    Message.id,
    Message.conversation_id,
    Message.direction,
    Message.text,
    Message.status,
    Message.created_at,
    Message.provider_message_id,
    User.name,
    MessageAttachment.id,
    MessageAttachment.filename,
    MessageAttachment.content_type,
    MessageAttachment.size,
)


# One message (a live push): built once, executed with its parameters.
_ONE_MESSAGE = (
    select(*_COLUMNS)
    .outerjoin(User, User.id == Message.author_user_id)
    .outerjoin(MessageAttachment, MessageAttachment.message_id == Message.id)
    .where(
        Message.id == bindparam("message_id"),
        Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
        Message.private.is_(False),
    )
    .order_by(MessageAttachment.id)
)


async def message_views(session: AsyncSession, conversation_ids: Sequence[int], *, after: int = 0,
                        message_id: int | None = None, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """Visible messages of ``conversation_ids`` (the newest ``limit`` after id ``after``), oldest first.

    One Core query (messages with their authors and attachments): this runs for every
    reply a visitor is shown live, so it skips the ORM's object loading.
    """
    if not conversation_ids:
        return []
    if message_id is not None:
        if message_id <= after:
            return []
        rows = await session.execute(
            _ONE_MESSAGE, {"message_id": message_id, "conversation_ids": list(conversation_ids)}
        )
    else:
        newest = (
            select(Message.id)
            .where(
                Message.conversation_id.in_(list(conversation_ids)),
                Message.private.is_(False),
                Message.id > after,
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
        rows = await session.execute(
            select(*_COLUMNS)
            .outerjoin(User, User.id == Message.author_user_id)
            .outerjoin(MessageAttachment, MessageAttachment.message_id == Message.id)
            .where(Message.id.in_(newest.scalar_subquery()))
            .order_by(Message.id, MessageAttachment.id)
        )
    views: dict[int, dict[str, Any]] = {}
    for mid, cid, direction, text, status, created_at, provider_id, author, att_id, filename, ctype, size in rows:
        view = views.get(mid)
        if view is None:
            inbound = direction != "out"
            view = views[mid] = {
                "id": mid,
                "conversation_id": cid,
                "direction": "in" if inbound else "out",
                "text": text,
                "author": None if inbound else author,
                "status": status,
                "created_at": created_at.isoformat(),
                "attachments": [],
                # The widget's own id of a visitor's message ("<visitor key>:<client id>"), to match its ack.
                "client_id": ((provider_id or "").partition(":")[2] or None) if inbound else None,
            }
        if att_id is not None:
            view["attachments"].append({"id": att_id, "filename": filename, "content_type": ctype, "size": size})
    return list(views.values())


async def conversation_states(session: AsyncSession, conversation_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Status and rating of each conversation, for the widget to offer a rating after resolution."""
    if not conversation_ids:
        return []
    rows = await session.execute(
        select(Conversation.id, Conversation.status, ConversationRating.score)
        .outerjoin(ConversationRating, ConversationRating.conversation_id == Conversation.id)
        .where(Conversation.id.in_(list(conversation_ids)))
        .order_by(Conversation.id)
    )
    return [{"id": cid, "status": status, "rating": score} for cid, status, score in rows]
