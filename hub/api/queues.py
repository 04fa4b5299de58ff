"""Queues with live statistics: how much work waits where, and for how long."""

from __future__ import annotations

from datetime import datetime

import msgspec
from aiohttp import web
from sqlalchemy import case, func, select

from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import SERVICES
from hub.api.queue_stats_schema import RoutingStats, typed
from hub.api.spec import operation
from hub.db.models import Conversation, Queue, QueueMember, utcnow
from hub.routing.stats import stored_stats

routes = web.RouteTableDef()


class QueueStats(msgspec.Struct):
    """A queue now: open conversations, those no agent holds yet, and the longest wait.

    ``routing`` holds the router's live statistics (waiting by priority and channel,
    agents, SLA at risk, service level, ASA, abandonment, handle time, offers, staffing
    advice), refreshed every ``[routing] stats_interval``; see docs/routing.md.

    ``oldest_waiting_seconds`` is how long the customer of the open conversation that
    has waited longest for an answer has waited (null when nobody waits).
    """

    id: int
    name: str
    open: int
    unassigned: int
    waiting: int
    oldest_waiting_seconds: int | None
    members: int
    routing: RoutingStats | None = None  # live routing statistics (docs/routing.md), null until computed
    routing_computed_at: datetime | None = None


class QueueList(msgspec.Struct):
    items: list[QueueStats]
    next: str | None = None


@operation(
    "GET",
    "/api/v1/queues",
    summary="Queues with live statistics; agents see their own queues",
    tag="queues",
    response=QueueList,
    errors=(401,),
)
@routes.get("/api/v1/queues")
async def list_queues(request: web.Request) -> web.Response:
    """Every queue the caller may see with its counts, by name."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    is_open = Conversation.status == "open"
    stats = (
        select(
            Conversation.queue_id.label("queue_id"),
            func.count().label("open"),
            func.sum(case((Conversation.assignee_id.is_(None), 1), else_=0)).label("unassigned"),
            func.sum(case((Conversation.waiting_since.is_not(None), 1), else_=0)).label("waiting"),
            func.min(Conversation.waiting_since).label("oldest"),
        )
        .where(is_open, Conversation.queue_id.is_not(None))
        .group_by(Conversation.queue_id)
        .subquery()
    )
    members = (
        select(QueueMember.queue_id.label("queue_id"), func.count().label("members"))
        .group_by(QueueMember.queue_id)
        .subquery()
    )
    stmt = (
        select(Queue.id, Queue.name, stats.c.open, stats.c.unassigned, stats.c.waiting, stats.c.oldest, members.c.members)
        .outerjoin(stats, stats.c.queue_id == Queue.id)
        .outerjoin(members, members.c.queue_id == Queue.id)
        .order_by(Queue.name)
    )
    if not principal.sees_everything:
        stmt = stmt.where(Queue.id.in_(sorted(principal.queue_ids)))
    now = utcnow()
    async with services.sessions() as session:
        rows = (await session.execute(stmt)).all()
    routing = await stored_stats(services)
    items = [
        QueueStats(
            id=queue_id,
            name=name,
            open=int(open_count or 0),
            unassigned=int(unassigned or 0),
            waiting=int(waiting or 0),
            oldest_waiting_seconds=_seconds_since(oldest, now),
            members=int(member_count or 0),
            routing=typed(routing[queue_id][0]) if queue_id in routing else None,
            routing_computed_at=routing[queue_id][1] if queue_id in routing else None,
        )
        for queue_id, name, open_count, unassigned, waiting, oldest, member_count in rows
    ]
    return json_response(QueueList(items=items))


def _seconds_since(value: datetime | None, now: datetime) -> int | None:
    if value is None:
        return None
    return max(0, int((now - value).total_seconds()))
