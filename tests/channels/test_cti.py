"""The CTI API: a PBX reports newCall, answer, hangup over HTTP with its channel's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.config import ChannelConfig, QueueConfig
from hub.db.models import (
    Call,
    Contact,
    ContactIdentity,
    Conversation,
    EventRecord,
    RoutingAgent,
    RoutingOffer,
    RoutingOutcome,
    TimelineEntry,
)
from hub.errors import ConfigError
from tests.api.conftest import eventually
from tests.api.test_ws import connect, events_until, hello
from tests.conftest import API_TOKEN, make_settings
from tests.factories import TestUser, create_user, send_inbound, services_of

Client = TestClient[Any, Any]
TOKEN = "pbx-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "+4930123456"


def cti_channel(**options: Any) -> ChannelConfig:
    return ChannelConfig(type="cti", name="pbx", queue="support", options={
        "token": TOKEN, "default_region": "DE", "blocklist": ["+49900", "+4915199999999"],
        "extensions": {"201": "anna@example.test", "202": "ben@example.test"}, **options,
    })


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    base = make_settings(database_url, tmp_path / "data")
    settings = make_settings(database_url, tmp_path / "data", channels=(*base.channels, cti_channel()))
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def agents(client: Client) -> tuple[TestUser, TestUser]:
    services = services_of(client)
    anna = await create_user(services, role="agent", queues=["support"], email="anna@example.test", name="Anna")
    ben = await create_user(services, role="agent", queues=["support"], email="ben@example.test", name="Ben")
    return anna, ben


async def post(client: Client, body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    resp = await client.post("/api/v1/calls/events", json=body, headers=AUTH if headers is None else headers)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def count(client: Client, model: type, *where: Any) -> int:
    async with services_of(client).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_whole_inbound_call_from_an_unknown_number(hub: Client) -> None:
    anna, _ = await agents(hub)
    new = await post(hub, {"event": "newCall", "call_id": "1733050000.42", "from": "030 123456", "to": "+4930999000",
                           "timestamp": 1733050000, "caller_name": "Frau Kundin"})
    assert (new["action"], new["state"], new["duplicate"], new["queue"], new["agent"]) == (
        "accept", "ringing", False, "support", None)
    assert new["contact"]["known"] is False and new["contact"]["name"] == "Frau Kundin"
    async with services_of(hub).sessions() as session:
        holder = await session.scalar(select(ContactIdentity.contact_id).where(ContactIdentity.address == CALLER))
    assert holder == new["contact"]["id"]  # E.164 with the channel's default region

    again = await post(hub, {"event": "newCall", "call_id": "1733050000.42", "from": "030 123456",
                             "to": "+4930999000", "timestamp": 1733050000})
    assert again["duplicate"] is True and again["call_id"] == new["call_id"]
    answered = await post(hub, {"event": "answer", "call_id": "1733050000.42", "agent": "201",
                                "timestamp": "2024-12-01T11:46:50+01:00"})
    assert answered["state"] == "talking"
    assert answered["agent"] == {"id": anna.id, "email": "anna@example.test", "name": "Anna", "extension": "201"}
    over = await post(hub, {"event": "hangup", "call_id": "1733050000.42", "timestamp": 1733050250})
    assert (over["state"], over["outcome"], over["action"]) == ("ended", "answered", "accept")

    supervisor = await create_user(services_of(hub), role="supervisor")
    resp = await hub.get(f"/api/v1/contacts/{new['contact']['id']}/timeline", headers=supervisor.headers)
    entries = (await resp.json())["items"]
    call = next(e for e in entries if e["kind"] == "call")
    assert call["data"] == {"call_id": new["call_id"], "direction": "in", "outcome": "answered",
                            "duration_seconds": 240, "wait_seconds": 10}
    assert await count(hub, Conversation) == 1 and await count(hub, Call) == 1


async def test_the_screen_pop_reaches_the_answering_agent_only(hub: Client) -> None:
    anna, ben = await agents(hub)
    texted = await send_inbound(hub, "web-form", sender={"phone": "+49 30 123456", "name": "Frau Kundin"})
    async with services_of(hub).sessions() as session:
        known = await session.scalar(select(Conversation.contact_id).where(Conversation.id == texted["conversation_id"]))
    ws_anna, ws_ben = await connect(hub, anna), await connect(hub, ben)
    await hello(ws_anna)
    await hello(ws_ben)
    new = await post(hub, {"event": "newCall", "call_id": "c-7", "from": "+4930123456", "to": "+4930999000"})
    assert new["contact"] == {"id": known, "name": "Frau Kundin", "known": True}
    await post(hub, {"event": "answer", "call_id": "c-7", "agent": "anna@example.test"})
    await post(hub, {"event": "hangup", "call_id": "c-7"})

    def ended(e: dict[str, Any]) -> bool:
        return e["type"] == "call.updated" and e["data"]["state"] == "ended"

    seen_by_anna = await events_until(ws_anna, ended)
    (pop,) = [e for e in seen_by_anna if e["type"] == "call.screen_pop"]
    assert pop["user_id"] == anna.id and pop["contact_id"] == known
    assert pop["data"] == {"call_id": new["call_id"], "conversation_id": new["conversation_id"],
                           "contact_id": known, "direction": "in", "known_contact": True}
    seen_by_ben = await events_until(ws_ben, ended)  # Ben's queue sees the call, not the screen pop
    assert [e["data"]["state"] for e in seen_by_ben if e["type"] == "call.updated"] == ["ringing", "talking", "ended"]
    assert "call.screen_pop" not in {e["type"] for e in seen_by_ben}
    for event in seen_by_anna + seen_by_ben:
        assert "123456" not in str(event["data"]) and "Kundin" not in str(event["data"])
    await ws_anna.close()
    await ws_ben.close()


def known_contact(ingested: dict[str, Any]) -> int:
    return int(ingested["contact_id"]) if "contact_id" in ingested else _contact_of(ingested)


def _contact_of(ingested: dict[str, Any]) -> int:
    raise AssertionError(f"the ingest answer names no contact: {ingested}")


async def test_the_blocklist_rejects_and_logs_the_call(hub: Client) -> None:
    answer = await post(hub, {"event": "newCall", "call_id": "spam-1", "from": "+49 900 1234567", "to": "+4930999000"})
    assert (answer["action"], answer["state"], answer["outcome"], answer["contact"]) == (
        "reject", "ended", "rejected", None)
    again = await post(hub, {"event": "newCall", "call_id": "spam-1", "from": "+49 900 1234567", "to": "+4930999000"})
    assert again["action"] == "reject" and again["duplicate"] is True
    assert await count(hub, Call, Call.outcome == "rejected") == 1
    assert await count(hub, Contact) == 0 and await count(hub, Conversation) == 0
    hangup = await post(hub, {"event": "hangup", "call_id": "spam-1"})
    assert hangup["duplicate"] is True and hangup["outcome"] == "rejected"
    allowed = await post(hub, {"event": "newCall", "call_id": "ok-1", "from": "+49901234567", "to": "+4930999000"})
    assert allowed["action"] == "accept"  # the prefix +49900 blocks premium numbers, not +49901


async def test_reports_out_of_order_and_late_change_nothing(hub: Client) -> None:
    _, ben = await agents(hub)
    # The hang-up overtakes the answer and carries the answer time itself.
    over = await post(hub, {"event": "hangup", "call_id": "x-1", "from": "+4930123456", "to": "+4930999000",
                            "agent": "202", "started_at": "2030-01-01T10:00:00+00:00",
                            "answered_at": "2030-01-01T10:00:20+00:00", "timestamp": "2030-01-01T10:01:20+00:00"})
    assert (over["state"], over["outcome"], over["agent"]["id"]) == ("ended", "answered", ben.id)
    late_answer = await post(hub, {"event": "answer", "call_id": "x-1", "agent": "202",
                                   "timestamp": "2030-01-01T10:00:20+00:00"})
    late_new = await post(hub, {"event": "newCall", "call_id": "x-1", "from": "+4930123456", "to": "+4930999000",
                                "timestamp": "2030-01-01T10:00:00+00:00"})
    assert late_answer["duplicate"] and late_new["duplicate"] and late_new["state"] == "ended"
    async with services_of(hub).sessions() as session:
        entry = await session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "call"))
    assert entry is not None and entry.data["duration_seconds"] == 60 and entry.data["wait_seconds"] == 20


async def test_an_agent_dials_out_and_a_withheld_number_gets_its_own_contact(hub: Client) -> None:
    anna, _ = await agents(hub)
    out = await post(hub, {"event": "newCall", "call_id": "o-1", "direction": "out", "from": "201",
                           "to": "+4930123456", "agent": "201"})
    assert (out["state"], out["agent"]["id"]) == ("ringing", anna.id)
    inbound_to_a_sip_line = await post(hub, {"event": "newCall", "call_id": "i-9", "from": CALLER,
                                             "to": "sip:hotline@pbx.example"})
    assert inbound_to_a_sip_line["action"] == "accept"
    async with services_of(hub).sessions() as session:
        conversation = await session.get(Conversation, out["conversation_id"])
        numbers = (await session.execute(select(Call.from_number, Call.to_number).where(Call.id == out["call_id"]))).one()
    assert conversation is not None and conversation.assignee_id == anna.id
    assert tuple(numbers) == ("201", CALLER)  # the agent's extension as given, the customer in E.164
    missed = await post(hub, {"event": "hangup", "call_id": "o-1", "outcome": "busy"})
    assert missed["outcome"] == "missed"

    first = await post(hub, {"event": "newCall", "call_id": "w-1", "from": "anonymous", "to": "+4930999000"})
    second = await post(hub, {"event": "newCall", "call_id": "w-2", "from": "", "to": "+4930999000"})
    assert first["contact"]["id"] != second["contact"]["id"]
    assert first["contact"]["id"] != out["contact"]["id"]


async def test_a_wrong_or_missing_token_is_401_and_writes_nothing(hub: Client) -> None:
    body = {"event": "newCall", "call_id": "c-1", "from": CALLER, "to": "+4930999000"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {API_TOKEN}"}):
        resp = await hub.post("/api/v1/calls/events", json=body, headers=headers)
        assert resp.status == 401 and resp.content_type == "application/problem+json"
    assert await count(hub, Call) == 0 and await count(hub, EventRecord) == 0


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"not json", 400, "not valid JSON"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "to": "+4930999000", "extra": 1}, 422, "extra"),
    ({"event": "ring", "call_id": "c-1", "from": CALLER}, 422, "event"),
    ({"event": "newCall", "call_id": "has space", "from": CALLER}, 422, "call_id"),
    ({"event": "newCall", "call_id": "c-1", "from": "call me"}, 422, "from"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "timestamp": "2030-01-01T10:00:00"}, 422, "offset"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "agent": "999"}, 422, "extension"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "agent": "nobody@example.test"}, 422, "no active agent"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "queue": "nowhere"}, 422, "no queue"),
    ({"event": "answer", "call_id": "c-unknown", "agent": "201"}, 422, "not known yet"),
    ({"event": "newCall", "call_id": "c-1", "from": CALLER, "caller_name": "A\u0000B"}, 422, "caller_name"),
])
async def test_a_bad_body_is_refused_with_a_problem_and_writes_nothing(
    hub: Client, body: Any, status: int, says: str
) -> None:
    await agents(hub)
    kwargs: dict[str, Any] = {"data": body, "headers": {**AUTH, "Content-Type": "application/json"}} if isinstance(
        body, bytes) else {"json": body, "headers": AUTH}
    resp = await hub.post("/api/v1/calls/events", **kwargs)
    assert resp.status == status, await resp.text()
    problem = await resp.json()
    assert resp.content_type == "application/problem+json" and says in problem["detail"], problem
    for model in (Call, Contact, Conversation, EventRecord):
        assert await count(hub, model) == 0


async def test_a_body_that_is_not_json_by_type_is_400(hub: Client) -> None:
    resp = await hub.post("/api/v1/calls/events", data=b"event=newCall", headers={**AUTH, "Content-Type": "text/plain"})
    assert resp.status == 400


def test_the_channel_checks_its_options() -> None:
    from hub.channels.cti import CtiChannel

    for options, says in (
        ({}, "token"),
        ({"token": "t", "blocklist": ["0900"]}, "blocklist"),
        ({"token": "t", "routing": "pabx"}, "routing"),
        ({"token": "t", "extensions": {"201": 5}}, "extensions"),
        ({"token": "t", "route_wait_seconds": 99}, "route_wait_seconds"),
    ):
        with pytest.raises(ConfigError, match=says):
            CtiChannel(ChannelConfig("cti", "pbx", "support", options), None)
    with pytest.raises(ConfigError, match="queue"):
        CtiChannel(ChannelConfig("cti", "pbx", None, {"token": "t", "routing": "hub"}), None)


@pytest.fixture
async def routed_hub(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    settings = make_settings(
        database_url, tmp_path / "data", queues=(QueueConfig("support", {"wrap_up": 60, "offer_timeout": 1, "away_after_missed_offers": 1}),
                QueueConfig("billing")),
        channels=(cti_channel(routing="hub", route_wait_seconds=20),), routing={"lease": 1},
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def test_with_hub_routing_the_answer_names_the_agent_to_ring(routed_hub: Client) -> None:
    anna, _ = await agents(routed_hub)
    resp = await routed_hub.put("/api/v1/agents/me/presence", json={"status": "available"}, headers=anna.headers)
    assert resp.status == 200
    new = await post(routed_hub, {"event": "newCall", "call_id": "r-1", "from": CALLER, "to": "+4930999000"})
    assert (new["state"], new["queue"], new["agent"]["id"], new["agent"]["extension"]) == (
        "ringing", "support", anna.id, "201")
    async with services_of(routed_hub).sessions() as session:
        offer = await session.scalar(select(RoutingOffer).where(RoutingOffer.conversation_id == new["conversation_id"]))
    assert offer is not None and (offer.state, offer.agent_id) == ("pending", anna.id)

    await post(routed_hub, {"event": "answer", "call_id": "r-1", "agent": "201"})
    async with services_of(routed_hub).sessions() as session:
        offer_state = await session.scalar(select(RoutingOffer.state).where(RoutingOffer.id == offer.id))
        conversation = await session.get(Conversation, new["conversation_id"])
    assert offer_state == "accepted" and conversation is not None and conversation.assignee_id == anna.id
    over = await post(routed_hub, {"event": "hangup", "call_id": "r-1"})
    assert (over["state"], over["outcome"]) == ("wrap_up", "answered")  # the queue's 60 s wrap-up

    async def outcomes() -> set[str]:
        async with services_of(routed_hub).sessions() as session:
            return set((await session.scalars(
                select(RoutingOutcome.kind).where(RoutingOutcome.conversation_id == new["conversation_id"])
            )).all())

    async def handled() -> bool:
        return "handled" in await outcomes()

    await eventually(handled)
    assert {"entered", "answered", "offer_accepted", "handled"} <= await outcomes()


async def test_an_unanswered_ring_goes_to_the_next_agent(routed_hub: Client) -> None:
    anna, ben = await agents(routed_hub)
    supervisor = await create_user(services_of(routed_hub), role="supervisor")
    for agent in (anna, ben):
        resp = await routed_hub.put("/api/v1/agents/me/presence", json={"status": "available"}, headers=agent.headers)
        assert resp.status == 200
    new = await post(routed_hub, {"event": "newCall", "call_id": "n-1", "from": CALLER, "to": "+4930999000"})
    first = new["agent"]["id"]
    second = ben if first == anna.id else anna

    async def ringing_at_the_second() -> bool:  # the first lets it ring past the offer timeout
        resp = await routed_hub.get(f"/api/v1/calls/{new['call_id']}", headers=supervisor.headers)
        call = await resp.json()
        return bool(call["state"] == "ringing" and call["agent_id"] == second.id)

    await eventually(ringing_at_the_second)
    async with services_of(routed_hub).sessions() as session:
        presence = await session.scalar(select(RoutingAgent.presence).where(RoutingAgent.user_id == first))
    assert presence == "away"  # away_after_missed_offers = 1
    talking = await post(routed_hub, {"event": "answer", "call_id": "n-1", "agent": second.email})
    assert (talking["state"], talking["agent"]["id"]) == ("talking", second.id)
    over = await post(routed_hub, {"event": "hangup", "call_id": "n-1"})
    assert over["outcome"] == "answered"
    async with services_of(routed_hub).sessions() as session:
        entry = await session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "call"))
        states = [e.data["state"] for e in (await session.scalars(
            select(EventRecord).where(EventRecord.type == "call.updated").order_by(EventRecord.id))).all()]
    assert entry is not None and entry.actor_user_id == second.id and entry.data["wait_seconds"] >= 1
    assert states[-2:] == ["talking", "wrap_up"], states
    assert states[:4] == ["queued", "ringing", "queued", "ringing"], states
