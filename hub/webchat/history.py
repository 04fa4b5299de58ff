"""What a visitor may read: their conversations on the channel, without private notes.

Agents' replies show the author's name; internal notes never leave this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, ConversationRating, Message, MessageAttachment, User

HISTORY_LIMIT = 200


def _view(message: Message, author: str | None, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": "out" if message.direction == "out" else "in",
        "text": message.text,
        "author": author if message.direction == "out" else None,
        "status": message.status,
        "created_at": message.created_at.isoformat(),
        "attachments": attachments,
        # The widget's own id of a visitor's message ("<visitor key>:<client id>"), to match its ack.
        "client_id": (message.provider_message_id or "").partition(":")[2] or None
        if message.direction == "in"
        else None,
    }


async def message_views(session: AsyncSession, conversation_ids: Sequence[int], *, after: int = 0,
                        message_id: int | None = None, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """Visible messages of ``conversation_ids`` (newest ``limit`` after id ``after``), oldest first."""
    if not conversation_ids:
        return []
    query = (
        select(Message, User.name)
        .outerjoin(User, User.id == Message.author_user_id)
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            Message.private.is_(False),
            Message.id > after,
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    if message_id is not None:
        query = query.where(Message.id == message_id)
    rows = list(reversed((await session.execute(query)).all()))
    files: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if rows:
        found = await session.scalars(
            select(MessageAttachment)
            .where(MessageAttachment.message_id.in_([m.id for m, _ in rows]))
            .order_by(MessageAttachment.id)
        )
        for att in found:
            files[att.message_id].append(
                {"id": att.id, "filename": att.filename, "content_type": att.content_type, "size": att.size}
            )
    return [_view(m, name, files.get(m.id, [])) for m, name in rows]


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
