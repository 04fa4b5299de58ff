"""/ws through the process's one fan-out: exactly the visible events per socket, one subscription, one encoding."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select

from hub.api import event_fanout, event_stream
from hub.api.event_stream import EventStream
from hub.api.ws import FANOUT
from hub.auth.policy import can_see_conversation
from hub.auth.principal import Principal, Role
from hub.bus import InProcessBus
from hub.db.models import EventRecord, QueueMember
from tests.api.test_ws import WS, connect, events_until, hello, received
from tests.factories import TestUser, create_user, send_inbound, services_of

Client = TestClient[Any, Any]


def principal_of(user: TestUser, role: Role, queue_ids: frozenset[int] = frozenset()) -> Principal:
    return Principal(user_id=user.id, email=user.email, name=user.email, role=role, queue_ids=queue_ids, via="token")


async def visible_ids(client: Client, principal: Principal, after: int, up_to: int) -> list[int]:
    """What the events table says ``principal`` may see in ``(after, up_to]``, in id order."""
    async with services_of(client).sessions() as session:
        rows = (
            await session.execute(
                select(EventRecord.id, EventRecord.queue_id, EventRecord.user_id)
                .where(EventRecord.id > after, EventRecord.id <= up_to)
                .order_by(EventRecord.id)
            )
        ).all()
    return [i for i, queue_id, user_id in rows if can_see_conversation(principal, queue_id, user_id)]


async def test_each_socket_gets_exactly_the_events_its_user_may_see(client: Client) -> None:
    services = services_of(client)
    support, billing = services.queues["support"], services.queues["billing"]
    in_support = await create_user(services, role="agent", queues=["support"])
    in_billing = await create_user(services, role="agent", queues=["billing"])
    in_none = await create_user(services, role="agent")
    supervisor = await create_user(services, role="supervisor")
    users = {
        "support": (in_support, principal_of(in_support, Role.AGENT, frozenset({support}))),
        "billing": (in_billing, principal_of(in_billing, Role.AGENT, frozenset({billing}))),
        "none": (in_none, principal_of(in_none, Role.AGENT)),
        "supervisor": (supervisor, principal_of(supervisor, Role.SUPERVISOR)),
    }
    sockets: dict[str, WS] = {}
    start: dict[str, int] = {}
    for name, (user, _) in users.items():
        sockets[name] = await connect(client, user)
        start[name] = (await hello(sockets[name]))["last_event_id"]

    await send_inbound(client, "web-form")
    shop = await send_inbound(client, "shop", sender={"email": "stamm@example.test"})
    # A billing conversation assigned to the agent without queues: its events are theirs too.
    resp = await client.put(
        f"/api/v1/conversations/{shop['conversation_id']}/assignee",
        json={"agent_id": in_none.id}, headers=supervisor.headers,
    )
    assert resp.status == 200, await resp.text()
    again = await send_inbound(client, "shop", sender={"email": "stamm@example.test"})
    assert again["conversation_id"] == shop["conversation_id"]
    await send_inbound(client, "web-form")
    await send_inbound(client, "shop", sender={"email": "stamm@example.test"})

    async with services.sessions() as session:
        newest = int(await session.scalar(select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1)) or 0)
    for name, (_, principal) in users.items():
        expected = await visible_ids(client, principal, start[name], newest)
        assert expected, name
        got: list[int] = []
        while not got or got[-1] != expected[-1]:
            async with asyncio.timeout(10):
                msg = await sockets[name].receive()
            got.append(json.loads(msg.data)["event"]["id"])
        assert got == expected, name
    for ws in sockets.values():
        await ws.close()


async def test_all_sockets_share_one_subscription_and_each_frame_is_encoded_once(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = services_of(client)
    bus = services.bus
    assert isinstance(bus, InProcessBus)
    before = bus.subscriptions
    supervisors = [await create_user(services, role="supervisor") for _ in range(3)]
    sockets = [await connect(client, s) for s in supervisors]
    for ws in sockets:
        await hello(ws)
    assert bus.subscriptions == before
    assert client.app[FANOUT].listeners == 3

    encoded: list[int | None] = []
    frame = event_fanout.event_frame

    def counting(event: Any) -> bytes:
        encoded.append(event.id)
        return frame(event)

    monkeypatch.setattr(event_fanout, "event_frame", counting)
    message = await send_inbound(client, "web-form")
    seen = [[e["id"] for e in await events_until(ws, received(message["message_id"]))] for ws in sockets]
    assert seen[0] == seen[1] == seen[2]
    assert encoded == seen[0]  # once per event, not once per socket
    for ws in sockets:
        await ws.close()
    for _ in range(100):
        if client.app[FANOUT].listeners == 0:
            break
        await asyncio.sleep(0.02)
    assert client.app[FANOUT].listeners == 0


async def test_queue_memberships_re_read_at_re_authentication_move_what_the_socket_gets(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "REAUTH_SECONDS", 0.05)
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["billing"])
    ws = await connect(client, agent)
    await hello(ws)

    async with services.sessions() as session, session.begin():
        session.add(QueueMember(user_id=agent.id, queue_id=services.queues["support"]))
    await asyncio.sleep(0.1)  # past the re-authentication interval
    trigger = await send_inbound(client, "shop")  # visible before and after: re-authenticates first
    await events_until(ws, received(trigger["message_id"]))
    support = await send_inbound(client, "web-form")
    events = await events_until(ws, received(support["message_id"]))
    assert {e["queue_id"] for e in events} == {services.queues["support"]}

    async with services.sessions() as session, session.begin():
        await session.execute(
            delete(QueueMember).where(
                QueueMember.user_id == agent.id, QueueMember.queue_id == services.queues["support"]
            )
        )
    await asyncio.sleep(0.1)
    trigger = await send_inbound(client, "shop")
    await events_until(ws, received(trigger["message_id"]))
    hidden = await send_inbound(client, "web-form")
    marker = await send_inbound(client, "shop")
    events = await events_until(ws, received(marker["message_id"]))
    assert {e["queue_id"] for e in events} == {services.queues["billing"]}
    assert hidden["message_id"] not in [e["data"].get("message_id") for e in events]
    await ws.close()


class SlowSocket:
    """Stands in for a client that reads slowly: every frame waits until ``gate`` opens."""

    closed = False

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.frames: list[dict[str, Any]] = []

    async def send_frame(self, data: bytes, opcode: WSMsgType) -> None:
        assert opcode is WSMsgType.TEXT
        await self.gate.wait()
        self.frames.append(json.loads(data))


async def test_a_socket_whose_queue_overflows_re_reads_the_table_and_misses_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "QUEUE_SIZE", 2)
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    principal = principal_of(supervisor, Role.SUPERVISOR)
    socket = SlowSocket()

    async def same() -> Principal:
        return principal

    stream = EventStream(services, cast(web.WebSocketResponse, socket), client.app[FANOUT], principal, same)
    task = asyncio.create_task(stream.run(None))
    try:
        await asyncio.sleep(0)  # the stream registers as its task starts
        assert client.app[FANOUT].listeners == 1
        sent = [await send_inbound(client, "web-form") for _ in range(3)]  # more events than the queue holds
        assert stream._overflowed
        socket.gate.set()
        last = sent[-1]["message_id"]
        for _ in range(500):
            if any(f.get("event", {}).get("data", {}).get("message_id") == last for f in socket.frames):
                break
            await asyncio.sleep(0.01)
        hello_frame, *rest = socket.frames
        assert hello_frame["type"] == "hello"
        newest = rest[-1]["event"]["id"]
        expected = await visible_ids(client, principal, hello_frame["last_event_id"], newest)
        assert [f["event"]["id"] for f in rest] == expected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
