"""What the router reads from the database: agents, conversations it routes, offers.

Reads only; writes happen in ``hub.routing.apply`` and the actions. Rows come back as
small frozen dataclasses, never ORM objects, so the service can hold them freely.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    Call,
    Contact,
    Conversation,
    Message,
    QueueMember,
    RoutingAgent,
    RoutingEntry,
    RoutingOffer,
    User,
    UserSkill,
)
from hub.db.upsert import insert_ignore

CHUNK = 500
# The states of a call with the caller on the line (``hub.calls.CallState``): only then is
# a voice conversation real-time work; otherwise (a voicemail) it waits like a message.
ON_THE_LINE = ("ivr", "queued", "ringing", "talking")


@dataclass(frozen=True, slots=True)
class AgentRow:
    id: int
    presence: str
    skills: dict[str, int]
    queues: frozenset[int]
    capacity: dict[str, Any] | None
    last_routed_at: datetime | None
    missed_offers: int


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    status: str
    assignee_id: int | None
    queue_id: int | None
    priority: int
    channel_id: int
    contact_id: int
    waiting_since: datetime | None
    created_at: datetime
    live_call: bool = False  # a call of the conversation is on the line (voice channels only)


@dataclass(frozen=True, slots=True)
class EntryRow:
    conversation_id: int
    queue_id: int | None
    state: str
    agent_id: int | None
    media: str
    realtime: bool
    channel: str
    since: datetime
    entered_at: datetime
    step: int
    assigned_at: datetime | None


@dataclass(frozen=True, slots=True)
class OfferRow:
    id: int
    conversation_id: int
    agent_id: int
    queue_id: int | None
    offered_at: datetime
    expires_at: datetime


async def load_agents(session: AsyncSession, user_ids: Iterable[int] | None = None) -> list[AgentRow]:
    """Every active user who is a member of a queue (or those of ``user_ids``), with routing state."""
    members: dict[int, set[int]] = defaultdict(set)
    stmt = select(QueueMember.user_id, QueueMember.queue_id).join(User, User.id == QueueMember.user_id).where(
        User.active.is_(True)
    )
    wanted = None if user_ids is None else sorted(set(user_ids))
    if wanted is not None:
        stmt = stmt.where(QueueMember.user_id.in_(wanted))
    for user_id, queue_id in await session.execute(stmt):
        members[user_id].add(queue_id)
    if not members:
        return []
    ids = sorted(members)
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    state: dict[int, RoutingAgent] = {}
    for chunk in _chunks(ids):
        for user_id, skill, level in await session.execute(
            select(UserSkill.user_id, UserSkill.skill, UserSkill.level).where(UserSkill.user_id.in_(chunk))
        ):
            skills[user_id][skill] = level
        for row in (await session.scalars(select(RoutingAgent).where(RoutingAgent.user_id.in_(chunk)))).all():
            state[row.user_id] = row
    out = []
    for user_id in ids:
        found = state.get(user_id)
        out.append(
            AgentRow(
                id=user_id,
                presence=found.presence if found is not None else "offline",
                skills=skills.get(user_id, {}),
                queues=frozenset(members[user_id]),
                capacity=found.capacity if found is not None else None,
                last_routed_at=found.last_routed_at if found is not None else None,
                missed_offers=found.missed_offers if found is not None else 0,
            )
        )
    return out


async def load_conversations(
    session: AsyncSession, ids: Iterable[int], *, call_channels: Collection[int] = ()
) -> dict[int, ConversationRow]:
    """The conversations; for those of ``call_channels`` (voice), whether a call is on the line."""
    out: dict[int, ConversationRow] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = (await session.execute(
            select(
                Conversation.id, Conversation.status, Conversation.assignee_id, Conversation.queue_id,
                Conversation.priority, Conversation.channel_id, Conversation.contact_id,
                Conversation.waiting_since, Conversation.created_at,
            ).where(Conversation.id.in_(chunk))
        )).all()
        calls = [row[0] for row in rows if row[5] in call_channels]
        live = set((await session.scalars(
            select(Call.conversation_id).where(Call.conversation_id.in_(calls), Call.state.in_(ON_THE_LINE))
        )).all()) if calls else set()
        for row in rows:
            out[row[0]] = ConversationRow(*row, live_call=row[0] in live)
    return out


async def routable_conversation_ids(session: AsyncSession) -> list[int]:
    """Conversations routing must know after a restart: those with an entry, and open unassigned ones in a queue."""
    entries = (await session.scalars(select(RoutingEntry.conversation_id))).all()
    waiting = (
        await session.scalars(
            select(Conversation.id).where(
                Conversation.status == "open", Conversation.assignee_id.is_(None), Conversation.queue_id.is_not(None)
            )
        )
    ).all()
    return sorted(set(entries) | set(waiting))


async def load_entries(session: AsyncSession, ids: Iterable[int]) -> dict[int, EntryRow]:
    out: dict[int, EntryRow] = {}
    for chunk in _chunks(sorted(set(ids))):
        for e in (await session.scalars(select(RoutingEntry).where(RoutingEntry.conversation_id.in_(chunk)))).all():
            out[e.conversation_id] = EntryRow(
                e.conversation_id, e.queue_id, e.state, e.agent_id, e.media, e.realtime, e.channel,
                e.since, e.entered_at, e.step, e.assigned_at,
            )
    return out


async def load_pending_offers(session: AsyncSession, ids: Iterable[int]) -> dict[int, OfferRow]:
    out: dict[int, OfferRow] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = await session.execute(
            select(
                RoutingOffer.id, RoutingOffer.conversation_id, RoutingOffer.agent_id, RoutingOffer.queue_id,
                RoutingOffer.offered_at, RoutingOffer.expires_at,
            ).where(RoutingOffer.conversation_id.in_(chunk), RoutingOffer.state == "pending")
        )
        for row in rows:
            out[row[1]] = OfferRow(*row)
    return out


async def first_message(session: AsyncSession, conversation_id: int) -> tuple[str, str]:
    """Text and subject of the conversation's first inbound message (for ingest rules only)."""
    row = (
        await session.execute(
            select(Message.text, Message.subject)
            .where(Message.conversation_id == conversation_id, Message.direction == "in")
            .order_by(Message.id)
            .limit(1)
        )
    ).first()
    return ("", "") if row is None else (row[0] or "", row[1] or "")


async def contact_attributes(session: AsyncSession, contact_id: int) -> dict[str, Any]:
    value = await session.scalar(select(Contact.attributes).where(Contact.id == contact_id))
    return dict(value or {})


async def ensure_agent_row(session: AsyncSession, user_id: int, now: datetime) -> None:
    await insert_ignore(
        session,
        RoutingAgent,
        [{"user_id": user_id, "presence": "offline", "presence_changed_at": now, "missed_offers": 0, "updated_at": now}],
    )


async def delete_entry(session: AsyncSession, conversation_id: int) -> None:
    await session.execute(delete(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id))


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
