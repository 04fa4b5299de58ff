"""Agents and offers: presence, the supervisor's agent list, capacity, answering offers.

Thin handlers over ``hub.routing.presence``. Agents act on themselves (``me``);
supervisors and admins also on any agent by id. An offer id of someone else reads 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api.guard import authenticate, require_role
from hub.api.jsonio import json_response, read_json
from hub.api.keys import ROUTING, SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.auth.principal import Role
from hub.db.models import RoutingOffer
from hub.errors import NotFound
from hub.routing import presence as agents
from hub.routing.model import Presence

routes = web.RouteTableDef()

PresenceStatus = Literal["available", "away", "offline"]
Limit = Annotated[int, msgspec.Meta(ge=0, le=100)]


class PresenceBody(msgspec.Struct, forbid_unknown_fields=True):
    """The agent's own presence; busy states (ringing, on a call, wrap-up) are derived by routing."""

    status: PresenceStatus


class PresenceView(msgspec.Struct):
    agent_id: int
    status: PresenceStatus
    since: datetime
    reason: str | None


class CapacityLimits(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    voice: Limit | None = None
    chat: Limit | None = None
    email: Limit | None = None
    messaging: Limit | None = None


class CapacityBody(msgspec.Struct, forbid_unknown_fields=True):
    """How many conversations of each medium the agent holds at once; null: the configured defaults."""

    capacity: CapacityLimits | None


class AgentOut(msgspec.Struct):
    """An agent: presence, derived activity, queues, skills, capacity, load per medium, offers waiting."""

    id: int
    name: str
    role: str
    status: PresenceStatus
    since: datetime | None
    reason: str | None
    activity: Literal["idle", "ringing", "on_call", "at_capacity"]
    queue_ids: list[int]
    skills: dict[str, int]
    capacity: dict[str, int]
    load: dict[str, int]
    pending_offer_ids: list[int]


class AgentList(msgspec.Struct):
    items: list[AgentOut]
    next: str | None = None


class OfferOut(msgspec.Struct):
    id: int
    conversation_id: int
    queue_id: int | None
    offered_at: datetime
    expires_at: datetime


class OfferList(msgspec.Struct):
    items: list[OfferOut]
    next: str | None = None


class OfferAnswer(msgspec.Struct):
    offer_id: int
    conversation_id: int
    accepted: bool


def _media_of_channels(request: web.Request) -> dict[int, str]:
    service = request.app[ROUTING]
    return {cid: info.media for cid, info in service.channels.items()}


def _out(view: agents.AgentView) -> AgentOut:
    return AgentOut(
        id=view.id, name=view.name, role=view.role, status=view.presence,  # type: ignore[arg-type]
        since=view.presence_since, reason=view.presence_reason,
        activity=view.activity, queue_ids=view.queue_ids,  # type: ignore[arg-type]
        skills=view.skills, capacity=view.capacity, load=view.load, pending_offer_ids=view.pending_offers,
    )


async def _presence(request: web.Request, agent_id: int) -> web.Response:
    principal = await authenticate(request)
    payload = await read_json(request, PresenceBody)
    result = await agents.set_presence(request.app[SERVICES], principal, agent_id, Presence(payload.status))
    return json_response(PresenceView(result.agent_id, result.presence, result.since, result.reason))  # type: ignore[arg-type]


@operation(
    "PUT", "/api/v1/agents/me/presence", summary="Set your presence: available, away or offline",
    tag="agents", request=PresenceBody, response=PresenceView, errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/agents/me/presence")
async def put_my_presence(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return await _presence(request, principal.user_id)


@operation(
    "PUT", "/api/v1/agents/{id}/presence", summary="Set an agent's presence (supervisors, admins)",
    tag="agents", request=PresenceBody, response=PresenceView,
    params=(id_path_param(description="user id"),), errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/agents/{id}/presence")
async def put_presence(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    return await _presence(request, path_id(request))


@operation(
    "GET", "/api/v1/agents", summary="Every queue member with presence, activity, capacity and load (supervisors, admins)",
    tag="agents", response=AgentList, errors=(401, 403),
)
@routes.get("/api/v1/agents")
async def list_agents(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    service = request.app[ROUTING]
    views = await agents.list_agents(request.app[SERVICES], service.settings, _media_of_channels(request))
    return json_response(AgentList(items=[_out(v) for v in views]))


@operation(
    "GET", "/api/v1/agents/me", summary="Your own presence, activity, capacity and load",
    tag="agents", response=AgentOut, errors=(401, 404),
)
@routes.get("/api/v1/agents/me")
async def get_me(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    service = request.app[ROUTING]
    views = await agents.list_agents(request.app[SERVICES], service.settings, _media_of_channels(request),
                                     user_ids=[principal.user_id])
    if not views:
        raise NotFound("no such agent")
    return json_response(_out(views[0]))


@operation(
    "PUT", "/api/v1/agents/{id}/capacity", summary="Set an agent's capacity per medium (supervisors, admins)",
    tag="agents", request=CapacityBody, params=(id_path_param(description="user id"),),
    status=204, errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/agents/{id}/capacity")
async def put_capacity(request: web.Request) -> web.Response:
    principal = await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    payload = await read_json(request, CapacityBody)
    limits = msgspec.structs.asdict(payload.capacity) if payload.capacity is not None else None
    if limits is not None:
        limits = {k: v for k, v in limits.items() if v is not None}
    await agents.set_capacity(request.app[SERVICES], request.app[ROUTING].settings, principal, path_id(request), limits)
    return web.Response(status=204)


@operation(
    "GET", "/api/v1/agents/me/offers", summary="Offers waiting for your answer",
    tag="agents", response=OfferList, errors=(401,),
)
@routes.get("/api/v1/agents/me/offers")
async def my_offers(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    async with request.app[SERVICES].sessions() as session:
        rows = (await session.scalars(
            select(RoutingOffer)
            .where(RoutingOffer.agent_id == principal.user_id, RoutingOffer.state == "pending")
            .order_by(RoutingOffer.id)
        )).all()
    items = [OfferOut(r.id, r.conversation_id, r.queue_id, r.offered_at, r.expires_at) for r in rows]
    return json_response(OfferList(items=items))


async def _answer(request: web.Request, accept: bool) -> web.Response:
    principal = await authenticate(request)
    offer_id = path_id(request)
    conversation_id = await agents.answer_offer(
        request.app[SERVICES], request.app[ROUTING].settings, principal.user_id, offer_id,
        accept=accept, principal=principal,
    )
    return json_response(OfferAnswer(offer_id, conversation_id, accept))


@operation(
    "POST", "/api/v1/offers/{id}/accept", summary="Accept an offer: the conversation becomes yours",
    tag="agents", response=OfferAnswer, params=(id_path_param(description="offer id"),), errors=(401, 404, 409),
)
@routes.post("/api/v1/offers/{id}/accept")
async def accept_offer(request: web.Request) -> web.Response:
    return await _answer(request, True)


@operation(
    "POST", "/api/v1/offers/{id}/reject", summary="Decline an offer: it goes to the next agent",
    tag="agents", response=OfferAnswer, params=(id_path_param(description="offer id"),), errors=(401, 404, 409),
)
@routes.post("/api/v1/offers/{id}/reject")
async def reject_offer(request: web.Request) -> web.Response:
    return await _answer(request, False)
