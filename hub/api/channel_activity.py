"""What a channel did lately, for the admin page: last message, sending backlog and failures.

Counts and times only; the outbox's error texts may quote a recipient and stay out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, OutboxItem


class ChannelActivity(msgspec.Struct):
    """``last_message_at``: the latest message in or out; ``outbox_*``: replies waiting and given up."""

    last_message_at: datetime | None = None
    outbox_pending: int = 0
    outbox_dead: int = 0
    last_send_error_at: datetime | None = None


async def channel_activity(session: AsyncSession, channel_ids: Sequence[int]) -> dict[int, ChannelActivity]:
    """Activity per channel id (every id gets an entry)."""
    out = {cid: ChannelActivity() for cid in channel_ids}
    if not channel_ids:
        return out
    ids = list(channel_ids)
    for channel_id, last in await session.execute(
        select(Conversation.channel_id, func.max(Conversation.last_message_at))
        .where(Conversation.channel_id.in_(ids)).group_by(Conversation.channel_id)
    ):
        out[channel_id].last_message_at = last
    for channel_id, state, count in await session.execute(
        select(OutboxItem.channel_id, OutboxItem.state, func.count())
        .where(OutboxItem.channel_id.in_(ids), OutboxItem.state.in_(("pending", "dead")))
        .group_by(OutboxItem.channel_id, OutboxItem.state)
    ):
        if state == "pending":
            out[channel_id].outbox_pending = int(count)
        else:
            out[channel_id].outbox_dead = int(count)
    for channel_id, at in await session.execute(
        select(OutboxItem.channel_id, func.max(OutboxItem.updated_at))
        .where(OutboxItem.channel_id.in_(ids), OutboxItem.last_error.is_not(None)).group_by(OutboxItem.channel_id)
    ):
        out[channel_id].last_send_error_at = at
    return out
