"""The routing service in a running hub: presence, direct assignment, offers, re-routing, rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hub.db.models import Conversation, EventRecord, RoutingOffer, SlaClock
from hub.routing.router import Router
from tests.factories import create_user, send_inbound, services_of
from tests.routing.conftest import Client, assignee, eventually, live_chat, presence


async def events_of(client: Client, type_: str, conversation_id: int | None = None) -> list[EventRecord]:
    async with services_of(client).sessions() as session:
        stmt = select(EventRecord).where(EventRecord.type == type_).order_by(EventRecord.id)
        if conversation_id is not None:
            stmt = stmt.where(EventRecord.conversation_id == conversation_id)
        return list((await session.scalars(stmt)).all())


async def test_an_available_agent_is_assigned_new_email_like_work_directly(hub: Client) -> None:
    services = services_of(hub)
    agent = await create_user(services, role="agent", queues=["support"])
    await presence(hub, agent.headers, "available")
    sent = await send_inbound(hub, "web-form")
    cid = sent["conversation_id"]
    await eventually(lambda: _is(assignee(hub, cid), agent.id), what="the assignment")
    (event,) = await events_of(hub, "conversation.assigned", cid)
    assert event.data["reason"] == "routed" and event.data["by_user_id"] is None
    (changed,) = await events_of(hub, "agent.presence_changed")
    assert changed.user_id == agent.id and changed.data["presence"] == "available"


async def test_work_waits_while_nobody_is_available_and_goes_to_the_first_who_is(hub: Client) -> None:
    services = services_of(hub)
    agent = await create_user(services, role="agent", queues=["support"])
    await presence(hub, agent.headers, "away")
    cid = (await send_inbound(hub, "web-form"))["conversation_id"]
    await eventually(lambda: _entered(hub, cid), what="the conversation in the queue")
    assert await assignee(hub, cid) is None
    await presence(hub, agent.headers, "available")
    await eventually(lambda: _is(assignee(hub, cid), agent.id), what="the assignment")


async def test_a_round_that_fails_midway_loses_no_event(hub: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error (SQLite's "database is locked" under load) while the router applies the
    events of a new conversation: the next round re-reads the database, so it is still routed."""
    services = services_of(hub)
    agent = await create_user(services, role="agent", queues=["support"])
    await presence(hub, agent.headers, "available")
    first = (await send_inbound(hub, "web-form"))["conversation_id"]
    await eventually(lambda: _is(assignee(hub, first), agent.id), what="the first assignment")
    real_handle = Router.handle
    failures: list[int] = []

    async def handle_failing_once(self: Router, events: Any) -> None:
        if not failures and any(e.type == "message.received" for e in events):
            failures.append(1)
            raise OperationalError("UPDATE ...", {}, Exception("database is locked"))
        await real_handle(self, events)

    monkeypatch.setattr(Router, "handle", handle_failing_once)
    cid = (await send_inbound(hub, "web-form"))["conversation_id"]
    await eventually(lambda: _is(assignee(hub, cid), agent.id), what="the assignment after the failed round")
    assert failures == [1]


async def test_a_chat_is_offered_and_becomes_the_agents_on_accept(hub: Client) -> None:
    agent = await create_user(services_of(hub), role="agent", queues=["support"])
    await presence(hub, agent.headers, "available")
    cid = await live_chat(hub)
    offers = await eventually(lambda: _offers(hub, agent.headers), what="the offer")
    (offer,) = offers
    assert offer["conversation_id"] == cid
    assert await assignee(hub, cid) is None  # an offer is not an assignment
    resp = await hub.post(f"/api/v1/offers/{offer['id']}/accept", headers=agent.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"offer_id": offer["id"], "conversation_id": cid, "accepted": True}
    assert await assignee(hub, cid) == agent.id
    again = await hub.post(f"/api/v1/offers/{offer['id']}/accept", headers=agent.headers)
    assert again.status == 409
    (offered,) = await events_of(hub, "conversation.offered", cid)
    assert offered.user_id == agent.id and offered.data["offer_id"] == offer["id"]


async def test_a_rejected_offer_goes_to_the_next_agent_and_nobody_else_may_answer_it(hub: Client) -> None:
    services = services_of(hub)
    first = await create_user(services, role="agent", queues=["support"])
    second = await create_user(services, role="agent", queues=["support"])
    await presence(hub, first.headers, "available")
    cid = await live_chat(hub)
    (offer,) = await eventually(lambda: _offers(hub, first.headers), what="the first offer")
    assert (await hub.post(f"/api/v1/offers/{offer['id']}/accept", headers=second.headers)).status == 404
    await presence(hub, second.headers, "available")
    resp = await hub.post(f"/api/v1/offers/{offer['id']}/reject", headers=first.headers)
    assert resp.status == 200, await resp.text()
    (other,) = await eventually(lambda: _offers(hub, second.headers), what="the second offer")
    assert other["conversation_id"] == cid


async def test_unanswered_offers_time_out_and_two_misses_set_the_agent_away(hub: Client) -> None:
    agent = await create_user(services_of(hub), role="agent", queues=["support"])
    await presence(hub, agent.headers, "available")
    await live_chat(hub)
    await live_chat(hub)  # the first one, once missed, is not offered to the same agent again at once
    timed_out = await eventually(lambda: _count(events_of(hub, "offer.timed_out"), 2), within=30, what="two timeouts")
    assert [e.data["missed_in_a_row"] for e in timed_out[:2]] == [1, 2]
    me = await eventually(lambda: _me_away(hub, agent.headers), what="the agent set away")
    assert me["reason"] == "missed_offers"
    async with services_of(hub).sessions() as session:
        states = (await session.scalars(select(RoutingOffer.state).order_by(RoutingOffer.id))).all()
    assert states == ["timed_out", "timed_out"]


async def test_an_agent_who_goes_away_loses_unanswered_work_after_the_grace_period(hub: Client) -> None:
    services = services_of(hub)
    leaving = await create_user(services, role="agent", queues=["support"])
    staying = await create_user(services, role="agent", queues=["support"])
    await presence(hub, leaving.headers, "available")
    cid = (await send_inbound(hub, "web-form"))["conversation_id"]
    await eventually(lambda: _is(assignee(hub, cid), leaving.id), what="the first assignment")
    await presence(hub, staying.headers, "available")
    await presence(hub, leaving.headers, "away")
    await eventually(lambda: _is(assignee(hub, cid), staying.id), what="the re-routing")
    (requeued,) = await events_of(hub, "conversation.requeued", cid)
    assert requeued.data == {"agent_id": leaving.id, "reason": "agent_away"}


async def test_a_complaint_gets_priority_and_the_complaints_queue(hub: Client) -> None:
    cid = (await send_inbound(hub, "web-form", text="Ich habe eine Beschwerde über die Rechnung"))["conversation_id"]
    normal = (await send_inbound(hub, "web-form", text="Wann öffnen Sie?"))["conversation_id"]

    queue_id, priority = await eventually(lambda: _rule_applied(hub, cid), what="the rule")
    assert (queue_id, priority) == (services_of(hub).queues["complaints"], 3)
    assert await _queue_priority(hub, normal) == (services_of(hub).queues["support"], 1)
    (changed,) = await events_of(hub, "conversation.priority_changed", cid)
    assert changed.data["reason"] == "rule:complaint"


async def test_queue_statistics_show_waiting_work_and_agents(hub: Client) -> None:
    services = services_of(hub)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    await presence(hub, agent.headers, "away")
    await send_inbound(hub, "web-form")
    await send_inbound(hub, "web-form")

    async def support_stats() -> Any:
        resp = await hub.get("/api/v1/queues", headers=supervisor.headers)
        item = next(q for q in (await resp.json())["items"] if q["name"] == "support")
        routing = item["routing"]
        return routing if routing and routing["now"]["waiting"] == 2 else None

    routing = await eventually(support_stats, what="the statistics")
    now = routing["now"]
    assert now["waiting_by_channel"] == {"web-form": 2}
    assert now["waiting_by_priority"] == {"1": 2}
    assert now["agents"]["members"] == 1 and now["agents"]["away"] == 1
    assert routing["window"]["entered"] == 2
    stats_events = await events_of(hub, "queue.stats")
    assert any(e.queue_id == services.queues["support"] for e in stats_events)


async def test_presence_input_is_checked(hub: Client) -> None:
    services = services_of(hub)
    agent = await create_user(services, role="agent", queues=["support"])
    other = await create_user(services, role="agent", queues=["support"])
    bad = await hub.put("/api/v1/agents/me/presence", json={"status": "busy"}, headers=agent.headers)
    assert bad.status == 422
    assert (await hub.put("/api/v1/agents/me/presence", json={"status": "away"})).status == 401
    forbidden = await hub.put(f"/api/v1/agents/{other.id}/presence", json={"status": "offline"}, headers=agent.headers)
    assert forbidden.status == 403
    assert (await hub.get("/api/v1/agents", headers=agent.headers)).status == 403
    assert await events_of(hub, "agent.presence_changed") == []


async def _entered(client: Client, cid: int) -> bool:
    from hub.db.models import RoutingEntry

    async with services_of(client).sessions() as session:
        return await session.get(RoutingEntry, cid) is not None


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def _offers(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/agents/me/offers", headers=headers)
    assert resp.status == 200
    return list((await resp.json())["items"])


async def _count(records: Any, n: int) -> Any:
    found = await records
    return found if len(found) >= n else None


async def _me_away(client: Client, headers: dict[str, str]) -> Any:
    me = await (await client.get("/api/v1/agents/me", headers=headers)).json()
    return me if me["status"] == "away" else None


async def _queue_priority(client: Client, cid: int) -> tuple[int | None, int]:
    async with services_of(client).sessions() as session:
        row = (await session.execute(select(Conversation.queue_id, Conversation.priority).where(Conversation.id == cid))).one()
    return row[0], row[1]


async def _rule_applied(client: Client, cid: int) -> Any:
    found = await _queue_priority(client, cid)
    return found if found[1] == 3 else None


async def test_sla_clocks_breach_once(hub: Client) -> None:
    cid = (await send_inbound(hub, "shop"))["conversation_id"]  # billing: the SLA policy of this test
    breached = await eventually(lambda: _count(events_of(hub, "sla.breached", cid), 1), within=15, what="the breach")
    assert breached[0].data["target"] == "first_response" and breached[0].data["policy"] == "fast"
    warnings = await events_of(hub, "sla.warning", cid)
    assert len(warnings) <= 1
    async with services_of(hub).sessions() as session:
        clock = await session.get(SlaClock, (cid, "first_response"))
    assert clock is not None and clock.state == "missed" and clock.breached
    await asyncio.sleep(0.5)  # more rounds of the worker announce nothing twice
    assert len(await events_of(hub, "sla.breached", cid)) == 1


async def test_a_supervisor_moves_work_to_another_queue_and_changes_its_priority(hub: Client) -> None:
    services = services_of(hub)
    supervisor = await create_user(services, role="supervisor")
    billing_agent = await create_user(services, role="agent", queues=["billing"])
    support_agent = await create_user(services, role="agent", queues=["support"])
    await presence(hub, billing_agent.headers, "available")
    cid = (await send_inbound(hub, "web-form"))["conversation_id"]
    await eventually(lambda: _entered(hub, cid), what="the conversation in the queue")
    forbidden = await hub.put(f"/api/v1/conversations/{cid}/queue", json={"queue": "billing"},
                              headers=support_agent.headers)
    assert forbidden.status == 403
    unknown = await hub.put(f"/api/v1/conversations/{cid}/queue", json={"queue": "nowhere"}, headers=supervisor.headers)
    assert unknown.status == 422
    resp = await hub.put(f"/api/v1/conversations/{cid}/priority", json={"priority": 7}, headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    moved = await hub.put(f"/api/v1/conversations/{cid}/queue", json={"queue": "billing"}, headers=supervisor.headers)
    assert moved.status == 200, await moved.text()
    await eventually(lambda: _is(assignee(hub, cid), billing_agent.id), what="the billing agent's assignment")
    assert await _queue_priority(hub, cid) == (services.queues["billing"], 7)
    (changed,) = await events_of(hub, "conversation.queue_changed", cid)
    assert changed.data["reason"] == "moved_by_supervisor" and changed.data["by_user_id"] == supervisor.id
