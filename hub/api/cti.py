"""``POST /api/v1/calls/events``: a PBX reports its calls (docs/channels/cti.md).

The bearer token names the CTI channel. The report is stored through the channel's
call service (``AdapterContext.calls``, the one the voice channels report to as well); the answer tells the PBX what the hub knows: accept or reject
(blocklist), the caller's contact and, when the hub routes the channel's calls, the
agent to ring (routing is waited for up to ``route_wait_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub import events as ev
from hub.api.channels import inbound_request
from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, SERVICES
from hub.api.spec import operation
from hub.bus import Subscription
from hub.calls import CallResult, CallState
from hub.channels.cti import CtiBody, CtiChannel
from hub.db.models import Call, Contact, Queue, RoutingOffer, User, utcnow
from hub.errors import BadRequest, Unauthorized
from hub.services import Services

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class ContactOut(msgspec.Struct):
    id: int
    name: str | None
    known: bool  # the contact existed before this call


class AgentOut(msgspec.Struct):
    id: int
    email: str
    name: str
    extension: str | None


class CtiAnswer(msgspec.Struct):
    """What the hub tells the PBX about the call."""

    action: str  # accept | reject
    call_id: int
    provider_call_id: str
    state: str
    outcome: str | None
    conversation_id: int | None
    contact: ContactOut | None
    queue: str | None
    agent: AgentOut | None
    duplicate: bool  # the report changed nothing (a retry, or older than what the hub knows)


@operation(
    "POST", "/api/v1/calls/events", summary="A PBX reports a call event (newCall, answer, hangup)",
    tag="calls", request=CtiBody, response=CtiAnswer, auth="channel", errors=(400, 401, 404, 413, 422),
)
@routes.post("/api/v1/calls/events")
async def post_call_event(request: web.Request) -> web.Response:
    """Verify the CTI token, check the body, store the report, answer with what the hub knows."""
    raw = await inbound_request(request)
    adapter = _channel_of(request, raw.headers.get("Authorization", ""))
    adapter.verify(raw)
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json")
    services = request.app[SERVICES]
    now = utcnow()
    report = adapter.parse_event(raw.body, now=now)
    waits = adapter.routing == "hub" and report.name == "newCall" and not report.rejected and adapter.route_wait > 0
    subscription = services.bus.subscribe() if waits else None  # before the write: no offer slips past
    try:
        calls = adapter.call_service()
        result = await calls.report(report.call, now=now)
        if report.rejected and result.created:
            log.info("call refused by the blocklist", extra={"channel": adapter.name, "call_id": result.call.id})
        if subscription is not None and result.call.state == CallState.QUEUED.value:
            agent_id = await _offered_agent(services, subscription, result.call.conversation_id, adapter.route_wait)
            if agent_id is not None:
                ringing = replace(report.call, state=CallState.RINGING, agent=agent_id, occurred_at=utcnow())
                moved = await calls.report(ringing)
                result = CallResult(moved.call, result.created, True, result.contact_created)
    finally:
        if subscription is not None:
            subscription.close()
    return json_response(await _answer(services, adapter, result))


def _channel_of(request: web.Request, header: str) -> CtiChannel:
    """The CTI channel whose token the request carries (each compared in constant time)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the CTI token as 'Authorization: Bearer <token>'")
    found = [a for a in request.app[ADAPTERS].values() if isinstance(a, CtiChannel) and a.accepts(token)]
    if not found:
        raise Unauthorized("wrong CTI token")
    return found[0]


async def _offered_agent(services: Services, subscription: Subscription, conversation_id: int | None,
                         wait: float) -> int | None:
    """The agent routing offers the conversation to, within ``wait`` seconds; None if nobody yet."""
    if conversation_id is None:
        return None
    try:
        async with asyncio.timeout(wait):
            while True:
                found = await _pending_offer(services, conversation_id)
                if found is not None:
                    return found
                while True:
                    event = await subscription.next()
                    if event is None:
                        subscription.reset()  # events may be lost: look at the database again
                        break
                    if event.type == ev.CONVERSATION_OFFERED and event.conversation_id == conversation_id:
                        agent_id = event.data.get("agent_id")
                        if isinstance(agent_id, int):
                            return agent_id
    except TimeoutError:
        return None


async def _pending_offer(services: Services, conversation_id: int) -> int | None:
    async with services.sessions() as session:
        agent_id = await session.scalar(
            select(RoutingOffer.agent_id)
            .where(RoutingOffer.conversation_id == conversation_id, RoutingOffer.state == "pending")
        )
    return int(agent_id) if agent_id is not None else None


async def _answer(services: Services, adapter: CtiChannel, result: CallResult) -> CtiAnswer:
    view = result.call
    async with services.sessions() as session:
        call = await session.get(Call, view.id)
        assert call is not None
        contact = await session.get(Contact, view.contact_id) if view.contact_id is not None else None
        queue = await session.scalar(select(Queue.name).where(Queue.id == view.queue_id)) if view.queue_id else None
        agent = await session.get(User, view.agent_id) if view.agent_id is not None else None
    return CtiAnswer(
        action="reject" if view.outcome == "rejected" else "accept",
        call_id=view.id, provider_call_id=view.provider_call_id, state=view.state, outcome=view.outcome,
        conversation_id=view.conversation_id,
        contact=ContactOut(contact.id, contact.name, contact.created_at < call.created_at) if contact else None,
        queue=queue,
        agent=AgentOut(agent.id, agent.email, agent.name, adapter.extension_of(agent.email)) if agent else None,
        duplicate=not (result.created or result.changed),
    )
