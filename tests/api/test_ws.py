"""/ws: who sees which event, catch-up from a cursor, re-sync, cluster fan-out, handshake checks."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from redis.exceptions import RedisError
from sqlalchemy import select, update

from hub.api import event_stream
from hub.api.app import create_app
from hub.api.guard import SESSION_COOKIE
from hub.api.keys import SERVICES
from hub.auth.tokens import digest, new_session_id
from hub.bootstrap import build_services
from hub.bus_redis import RedisBus
from hub.db.models import ApiToken, EventRecord, WebSession, utcnow
from hub.events import Event, write_events
from tests.conftest import make_settings
from tests.factories import TestUser, create_user, send_inbound, services_of
from tests.services import REDIS_URL, service_missing

Client = TestClient[Any, Any]
WS = aiohttp.ClientWebSocketResponse
WAIT = 10.0


async def connect(client: Client, user: TestUser, cursor: int | None = None) -> WS:
    params = {} if cursor is None else {"cursor": str(cursor)}
    return await client.ws_connect("/ws", headers=user.headers, params=params)


async def receive(ws: WS) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        msg = await ws.receive()
    assert msg.type is WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def hello(ws: WS) -> dict[str, Any]:
    message = await receive(ws)
    assert message["type"] == "hello", message
    return message


async def events_until(ws: WS, last: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Events received up to and including the first for which ``last`` is true."""
    events: list[dict[str, Any]] = []
    while True:
        message = await receive(ws)
        assert message["type"] == "event", message
        events.append(message["event"])
        if last(message["event"]):
            return events


def received(message_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "message.received" and e["data"]["message_id"] == message_id


def received_ids(events: list[dict[str, Any]]) -> list[int]:
    return [e["data"]["message_id"] for e in events if e["type"] == "message.received"]


def assert_ordered_once(events: list[dict[str, Any]]) -> None:
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), ids


async def test_an_agent_gets_the_events_of_their_queues_and_a_supervisor_gets_all(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    supervisor = await create_user(services, role="supervisor")
    ws_agent, ws_super = await connect(client, agent), await connect(client, supervisor)
    await hello(ws_agent)
    await hello(ws_super)

    support_1 = await send_inbound(client, "web-form")
    billing = await send_inbound(client, "shop")
    support_2 = await send_inbound(client, "web-form")

    seen_by_agent = await events_until(ws_agent, received(support_2["message_id"]))
    assert received_ids(seen_by_agent) == [support_1["message_id"], support_2["message_id"]]
    assert {e["queue_id"] for e in seen_by_agent} == {services.queues["support"]}
    assert_ordered_once(seen_by_agent)

    seen_by_supervisor = await events_until(ws_super, received(support_2["message_id"]))
    assert received_ids(seen_by_supervisor) == [m["message_id"] for m in (support_1, billing, support_2)]
    assert "contact.created" in {e["type"] for e in seen_by_supervisor}  # no queue: staff only
    assert_ordered_once(seen_by_supervisor)
    first = next(e for e in seen_by_supervisor if received(support_1["message_id"])(e))
    assert first["conversation_id"] == support_1["conversation_id"]
    assert first["data"] == {"message_id": support_1["message_id"], "channel": "web-form"}


async def test_a_cursor_replays_exactly_the_missed_visible_events_then_goes_live(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    ws = await connect(client, agent)
    cursor = (await hello(ws))["last_event_id"]
    await ws.close()

    missed = [
        await send_inbound(client, "web-form"),
        await send_inbound(client, "shop"),
        await send_inbound(client, "web-form"),
    ]
    async with services.sessions() as session:
        expected = list(
            (
                await session.scalars(
                    select(EventRecord.id)
                    .where(EventRecord.id > cursor, EventRecord.queue_id == services.queues["support"])
                    .order_by(EventRecord.id)
                )
            ).all()
        )
    assert len(expected) >= 4  # two conversations created, two messages received

    ws = await connect(client, agent, cursor=cursor)
    greeting = await hello(ws)
    assert greeting["cursor"] == cursor and greeting["last_event_id"] >= expected[-1]
    replayed = [(await receive(ws))["event"] for _ in expected]
    assert [e["id"] for e in replayed] == expected
    assert received_ids(replayed) == [missed[0]["message_id"], missed[2]["message_id"]]

    live = await send_inbound(client, "web-form")
    after = await events_until(ws, received(live["message_id"]))
    assert_ordered_once(replayed + after)
    assert all(e["id"] > expected[-1] for e in after)

    middle = await connect(client, agent, cursor=expected[1])
    await hello(middle)
    assert (await receive(middle))["event"]["id"] == expected[2]


async def test_without_a_cursor_only_events_after_hello_arrive(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    before = await send_inbound(client, "web-form")
    ws = await connect(client, supervisor)
    greeting = await hello(ws)
    async with services.sessions() as session:
        newest = await session.scalar(select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1))
    assert greeting["last_event_id"] == newest
    now = await send_inbound(client, "web-form")
    events = await events_until(ws, received(now["message_id"]))
    assert before["message_id"] not in received_ids(events)
    assert all(e["id"] > greeting["last_event_id"] for e in events)


async def test_a_bus_gap_makes_the_socket_re_read_the_events_table(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    ws = await connect(client, supervisor)
    await hello(ws)
    first = await send_inbound(client, "web-form")
    seen = await events_until(ws, received(first["message_id"]))

    # Committed but never published, as when a process loses Redis right after commit.
    async with services.sessions() as session, session.begin():
        unpublished = Event(
            "conversation.status_changed",
            conversation_id=first["conversation_id"],
            queue_id=services.queues["support"],
            data={"status": "pending"},
        )
        (lost,) = await write_events(session, [unpublished])
    services.bus.mark_missed()
    resent = await events_until(ws, lambda e: e["id"] == lost.id)
    assert [e["id"] for e in resent] == [lost.id]

    later = await send_inbound(client, "web-form")
    after = await events_until(ws, received(later["message_id"]))
    assert_ordered_once(seen + resent + after)


async def test_events_published_out_of_order_arrive_in_order_and_complete(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    ws = await connect(client, supervisor)
    await hello(ws)
    first = await send_inbound(client, "web-form")
    await events_until(ws, received(first["message_id"]))

    # Two commits whose publications cross, as with two commit workers on PostgreSQL.
    def status(value: str) -> Event:
        return Event(
            "conversation.status_changed",
            conversation_id=first["conversation_id"],
            queue_id=services.queues["support"],
            data={"status": value},
        )

    async with services.sessions() as session, session.begin():
        (early,) = await write_events(session, [status("pending")])
    async with services.sessions() as session, session.begin():
        (late,) = await write_events(session, [status("open")])
    await services.bus.publish([late])
    await services.bus.publish([early])
    got = await events_until(ws, lambda e: e["id"] == late.id)
    assert [e["id"] for e in got] == [early.id, late.id]
    later = await send_inbound(client, "web-form")
    after = await events_until(ws, received(later["message_id"]))
    assert_ordered_once(got + after)


async def test_a_revoked_token_stops_the_stream(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "REAUTH_SECONDS", 0.0)
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    ws = await connect(client, supervisor)
    await hello(ws)
    async with services.sessions() as session, session.begin():
        await session.execute(update(ApiToken).where(ApiToken.user_id == supervisor.id).values(revoked_at=utcnow()))
    await send_inbound(client, "web-form")
    async with asyncio.timeout(WAIT):
        msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE
    # The code of the server's close frame (the client's own ``close_code`` reads 1006 when
    # the server dropped the connection before the client's close reply went out).
    assert msg.data == event_stream.CLOSE_AUTH_EXPIRED


async def test_a_revoked_token_closes_a_socket_that_receives_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "REAUTH_SECONDS", 0.2)
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    ws = await connect(client, agent)
    await hello(ws)
    async with services.sessions() as session, session.begin():
        await session.execute(update(ApiToken).where(ApiToken.user_id == agent.id).values(revoked_at=utcnow()))
    await send_inbound(client, "shop")  # another queue's message: nothing for this socket to send
    async with asyncio.timeout(WAIT):
        msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == event_stream.CLOSE_AUTH_EXPIRED


async def session_cookie(client: Client, user: TestUser) -> dict[str, str]:
    session_id = new_session_id()
    async with services_of(client).sessions() as session, session.begin():
        session.add(
            WebSession(
                id_hash=digest(session_id),
                user_id=user.id,
                csrf_token="csrf",
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


async def test_cookie_logins_must_come_from_the_hubs_own_origin(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    cookie = await session_cookie(client, agent)
    own = str(client.make_url("/").origin())
    public = services_of(client).settings.public_url
    for origin in (own, public):
        ws = await client.ws_connect("/ws", headers={**cookie, "Origin": origin})
        assert (await hello(ws))["user_id"] == agent.id
        await ws.close()
    for foreign in ("http://evil.example", "null", own.replace("http://", "https://")):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await client.ws_connect("/ws", headers={**cookie, "Origin": foreign})
        assert caught.value.status == 403, foreign
    # A bearer token is never sent by a browser on its own: no origin check needed.
    ws = await client.ws_connect("/ws", headers={**agent.headers, "Origin": "http://evil.example"})
    await hello(ws)


async def test_the_handshake_needs_auth_and_a_valid_cursor(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws")
    assert caught.value.status == 401
    agent = await create_user(services_of(client), role="agent")
    for bad in ("-1", "abc", "1.5", "9" * 30):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await client.ws_connect("/ws", headers=agent.headers, params={"cursor": bad})
        assert caught.value.status == 400, bad
    resp = await client.get("/ws", headers=agent.headers)
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"


async def test_shutdown_closes_open_sockets_with_going_away(settings: Any) -> None:
    server = TestServer(create_app(settings))
    await server.start_server()
    agent = await create_user(server.app[SERVICES], role="agent", queues=["support"])
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.make_url("/ws"), headers=agent.headers)
        await hello(ws)
        closing = asyncio.create_task(server.close())
        async with asyncio.timeout(WAIT):
            msg = await ws.receive()
        assert msg.type is WSMsgType.CLOSE
        assert ws.close_code == WSCloseCode.GOING_AWAY
        await closing


@pytest.fixture
async def redis_channel() -> str:
    """A pub/sub channel of its own on the real Redis (channels are server-wide)."""
    probe = aioredis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except (RedisError, OSError) as exc:
        service_missing("Redis", exc)
    finally:
        await probe.aclose()
    return f"hub:test:{uuid.uuid4().hex}"


@pytest.fixture
async def cluster(database_url: str, tmp_path: Path, redis_channel: str) -> AsyncIterator[list[Client]]:
    """Two hub instances sharing one database and one Redis, each with its own server."""
    clients: list[Client] = []
    for n in (1, 2):
        settings = make_settings(database_url, tmp_path / f"node{n}", redis_url=REDIS_URL)
        bus = RedisBus(REDIS_URL, channel=redis_channel, client_name=f"hub-test-{uuid.uuid4().hex[:12]}")
        app = create_app(settings, services=build_services(settings, bus=bus))
        test_client: Client = TestClient(TestServer(app))
        await test_client.start_server()
        clients.append(test_client)
    yield clients
    for test_client in clients:
        await test_client.close()


async def test_a_message_ingested_on_one_instance_reaches_a_socket_on_the_other(cluster: list[Client]) -> None:
    node1, node2 = cluster
    agent = await create_user(services_of(node1), role="agent", queues=["support"])
    supervisor = await create_user(services_of(node1), role="supervisor")
    ws_agent_2 = await connect(node2, agent)
    ws_super_2 = await connect(node2, supervisor)
    ws_super_1 = await connect(node1, supervisor)
    for ws in (ws_agent_2, ws_super_2, ws_super_1):
        await hello(ws)

    billing = await send_inbound(node1, "shop")
    support = await send_inbound(node1, "web-form")

    on_2 = await events_until(ws_super_2, received(support["message_id"]))
    on_1 = await events_until(ws_super_1, received(support["message_id"]))
    assert received_ids(on_2) == [billing["message_id"], support["message_id"]]
    assert [e["id"] for e in on_1] == [e["id"] for e in on_2]  # one stream, one order
    agent_events = await events_until(ws_agent_2, received(support["message_id"]))
    assert received_ids(agent_events) == [support["message_id"]]
    assert (await node2.get("/healthz")).status == 200
