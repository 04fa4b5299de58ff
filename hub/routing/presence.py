"""Agents' actions and views: presence, answering offers, what supervisors see of agents.

Each write is one transaction with its event; the router (in whichever process holds
the lease) learns of it over the bus. Accepting an offer is a compare-and-set on the
offer row and on the conversation's assignee, so an accept that races the offer's
timeout (or a supervisor's assignment) either wins entirely or gets 409.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from hub import events as ev
from hub.auth.principal import Principal
from hub.db.models import (
    Conversation,
    QueueMember,
    RoutingAgent,
    RoutingEntry,
    RoutingOffer,
    User,
    UserSkill,
    utcnow,
)
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event
from hub.inbox import actions
from hub.routing.apply import record_answered, record_outcome
from hub.routing.model import Presence
from hub.routing.settings import RoutingSettings, agent_capacity, parse_capacity
from hub.routing.store import ensure_agent_row
from hub.services import Services, Unit


@dataclass(frozen=True)
class AgentPresence:
    agent_id: int
    presence: str
    since: datetime
    reason: str | None


async def set_presence(
    services: Services, actor: Principal, agent_id: int, presence: Presence, *, now: datetime | None = None
) -> AgentPresence:
    """Set ``agent_id``'s presence (their own, or any agent's for supervisors and admins)."""
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        user = await session.get(User, agent_id)
        if user is None or not user.active:
            raise NotFound("no such agent")
        await ensure_agent_row(session, agent_id, now)
        row = (await session.execute(
            select(RoutingAgent).where(RoutingAgent.user_id == agent_id).with_for_update()
        )).scalar_one()
        previous = row.presence
        if previous != presence.value:
            row.presence = presence.value
            row.presence_changed_at = now
            row.presence_reason = None if actor.user_id == agent_id else "set_by_supervisor"
            row.missed_offers = 0 if presence is Presence.AVAILABLE else row.missed_offers
            row.updated_at = now
            unit.emit(Event(ev.AGENT_PRESENCE_CHANGED, user_id=agent_id, occurred_at=now,
                            data={"presence": presence.value, "previous": previous, "reason": row.presence_reason,
                                  "by_user_id": actor.user_id}))
        return AgentPresence(agent_id, row.presence, row.presence_changed_at, row.presence_reason)


async def set_capacity(
    services: Services, settings: RoutingSettings, actor: Principal, agent_id: int, limits: dict[str, Any] | None,
    *, now: datetime | None = None,
) -> None:
    """Per-agent capacity per medium (None: back to the ``[routing] capacity`` defaults)."""
    now = now or utcnow()
    if limits is not None:
        try:
            parse_capacity(limits, "capacity", settings.capacity.limits)
        except Exception as exc:
            raise ValidationFailed(str(getattr(exc, "detail", exc))) from None
    async with services.transaction() as unit:
        if await unit.session.get(User, agent_id) is None:
            raise NotFound("no such agent")
        await ensure_agent_row(unit.session, agent_id, now)
        await unit.session.execute(
            update(RoutingAgent).where(RoutingAgent.user_id == agent_id).values(capacity=limits, updated_at=now)
        )
        unit.emit(Event(ev.AGENT_UPDATED, user_id=agent_id, occurred_at=now,
                        data={"fields": ["capacity"], "by_user_id": actor.user_id}))


async def answer_offer(
    services: Services, settings: RoutingSettings, agent_id: int, offer_id: int, *, accept: bool,
    principal: Principal | None = None, now: datetime | None = None, unit: Unit | None = None,
) -> int:
    """Accept (the conversation becomes the agent's) or reject an offer; returns the conversation id.

    404 unless the offer is ``agent_id``'s; 409 once it was answered, timed out or withdrawn.
    A telephony adapter calls this with ``accept=True`` when the agent picks up (through
    ``hub.inbox.calls``, which does it in the call's transaction: ``unit``).
    """
    now = now or utcnow()
    if unit is None:
        async with services.transaction() as own:
            return await _answer_offer(own, services, settings, agent_id, offer_id, accept, principal, now)
    return await _answer_offer(unit, services, settings, agent_id, offer_id, accept, principal, now)


async def _answer_offer(
    unit: Unit, services: Services, settings: RoutingSettings, agent_id: int, offer_id: int, accept: bool,
    principal: Principal | None, now: datetime,
) -> int:
    session = unit.session
    offer = (await session.execute(
        select(RoutingOffer).where(RoutingOffer.id == offer_id).with_for_update()
    )).scalar_one_or_none()
    if offer is None or offer.agent_id != agent_id:
        raise NotFound("no such offer")
    if offer.state != "pending":
        raise Conflict(f"this offer is no longer open (it was {offer.state.replace('_', ' ')})")
    if offer.expires_at <= now:
        raise Conflict("this offer has expired")
    offer.state = "accepted" if accept else "rejected"
    offer.answered_at = now
    entry = await session.get(RoutingEntry, offer.conversation_id, with_for_update=True)
    if accept:
        await actions.assign(services, principal, offer.conversation_id, agent_id, now=now, unit=unit,
                             expect=None, reason="offer_accepted")
        if entry is not None:
            record_answered(unit, settings, entry.queue_id, offer.conversation_id, agent_id,
                            (now - entry.since).total_seconds(), now)
            entry.state, entry.agent_id, entry.assigned_at, entry.updated_at = "assigned", agent_id, now, now
    elif entry is not None:
        entry.state, entry.agent_id, entry.updated_at = "waiting", None, now
    record_outcome(unit, "offer_accepted" if accept else "offer_rejected", offer.queue_id,
                   offer.conversation_id, agent_id, now)
    unit.emit(Event(ev.OFFER_ACCEPTED if accept else ev.OFFER_REJECTED, conversation_id=offer.conversation_id,
                    queue_id=offer.queue_id, user_id=agent_id, occurred_at=now,
                    data={"offer_id": offer.id, "agent_id": agent_id}))
    return offer.conversation_id


@dataclass
class AgentView:
    """An agent as a supervisor sees them: presence, queues, skills, capacity and load."""

    id: int
    name: str
    role: str
    presence: str
    presence_since: datetime | None
    presence_reason: str | None
    queue_ids: list[int]
    skills: dict[str, int]
    capacity: dict[str, int]
    load: dict[str, int] = field(default_factory=dict)
    pending_offers: list[int] = field(default_factory=list)
    activity: str = "idle"


async def list_agents(
    services: Services, settings: RoutingSettings, media_of_channel: dict[int, str], *,
    user_ids: list[int] | None = None,
) -> list[AgentView]:
    """Queue members (or ``user_ids``) with presence, load per medium and pending offers."""
    async with services.sessions() as session:
        stmt = select(User).where(User.active.is_(True)).order_by(User.name, User.id)
        if user_ids is not None:
            stmt = stmt.where(User.id.in_(user_ids))
        else:
            stmt = stmt.where(User.id.in_(select(QueueMember.user_id)))
        users = list((await session.scalars(stmt)).all())
        ids = [u.id for u in users]
        queues: dict[int, list[int]] = defaultdict(list)
        for user_id, queue_id in await session.execute(
            select(QueueMember.user_id, QueueMember.queue_id).where(QueueMember.user_id.in_(ids)).order_by(QueueMember.queue_id)
        ):
            queues[user_id].append(queue_id)
        skills: dict[int, dict[str, int]] = defaultdict(dict)
        for user_id, skill, level in await session.execute(
            select(UserSkill.user_id, UserSkill.skill, UserSkill.level).where(UserSkill.user_id.in_(ids))
        ):
            skills[user_id][skill] = level
        state = {r.user_id: r for r in (await session.scalars(select(RoutingAgent).where(RoutingAgent.user_id.in_(ids)))).all()}
        load: dict[int, dict[str, int]] = defaultdict(dict)
        for assignee_id, channel_id, count in await session.execute(
            select(Conversation.assignee_id, Conversation.channel_id, func.count())
            .where(Conversation.assignee_id.in_(ids), Conversation.status == "open")
            .group_by(Conversation.assignee_id, Conversation.channel_id)
        ):
            assert assignee_id is not None
            media = media_of_channel.get(channel_id, "messaging")
            load[assignee_id][media] = load[assignee_id].get(media, 0) + count
        offers: dict[int, list[int]] = defaultdict(list)
        for offer_id, user_id in await session.execute(
            select(RoutingOffer.id, RoutingOffer.agent_id).where(RoutingOffer.agent_id.in_(ids), RoutingOffer.state == "pending")
        ):
            offers[user_id].append(offer_id)
    out = []
    for user in users:
        row = state.get(user.id)
        capacity = agent_capacity(settings.capacity, row.capacity if row else None)
        view = AgentView(
            id=user.id, name=user.name, role=user.role,
            presence=row.presence if row else "offline",
            presence_since=row.presence_changed_at if row else None,
            presence_reason=row.presence_reason if row else None,
            queue_ids=queues.get(user.id, []), skills=skills.get(user.id, {}),
            capacity=dict(capacity.limits), load=load.get(user.id, {}), pending_offers=offers.get(user.id, []),
        )
        view.activity = _activity(view, capacity.blocking)
        out.append(view)
    return out


def _activity(view: AgentView, blocking: frozenset[str]) -> str:
    if view.pending_offers:
        return "ringing"
    if view.load.get("voice"):
        return "on_call"
    blocked = any(view.load.get(m) for m in blocking)
    if blocked or not any(view.load.get(m, 0) < n for m, n in view.capacity.items() if n > 0):
        return "at_capacity"
    return "idle"
