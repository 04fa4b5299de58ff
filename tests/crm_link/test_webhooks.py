"""Outgoing webhooks: signed, retried with backoff, logged, replayable, SSRF-guarded; fed by the connector runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import event, select

from hub.crm_link.connectors.base import Connector, ConnectorContext
from hub.crm_link.connectors.runner import ConnectorRunner
from hub.crm_link.connectors.webhooks import (
    WebhookFanout,
    WebhookSender,
    create_subscription,
    replay_delivery,
    update_subscription,
)
from hub.crm_link.restriction import restrict_processing
from hub.db.models import WebhookAttempt, WebhookDelivery
from hub.errors import Conflict, Forbidden, ValidationFailed
from hub.events import Event
from hub.net import DestinationPolicy, create_http_session
from tests.crm_link.test_restriction import admin_of
from tests.inbox.callback_receiver import SECRET, Answer, CallbackReceiver
from tests.inbox.outbound_env import Env, FakeClock


@pytest.fixture
async def http(hub_env: Env) -> AsyncIterator[aiohttp.ClientSession]:
    policy = DestinationPolicy(hub_env.services.settings.outbound_allow_networks)
    async with create_http_session(policy) as session:
        yield session


class Recorder(Connector):
    """A connector that writes down what it got, and fails while ``broken``."""

    type = "recorder"
    event_types = frozenset({"message.received", "contact.consent_changed"})

    def __init__(self, name: str, context: ConnectorContext) -> None:
        super().__init__(name, context)
        self.seen: list[Event] = []
        self.broken = False

    async def handle(self, events: Sequence[Event]) -> None:
        if self.broken:
            raise RuntimeError("the CRM is down")
        self.seen.extend(events)


async def subscribe(env: Env, url: str, types: Sequence[str] = ("*",)) -> int:
    subscription = await create_subscription(env.services, admin_of(env), "crm", url, types, SECRET)
    return subscription.id


async def deliveries(env: Env) -> list[WebhookDelivery]:
    async with env.services.sessions() as session:
        return list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())


async def test_events_reach_the_subscriber_signed_once_each(
    hub_env: Env, http: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    receiver.always = Answer(200, b"ok")
    await subscribe(hub_env, receiver.url, ["message.received", "conversation.created"])
    fanout = WebhookFanout("webhooks", ConnectorContext(hub_env.services, http))
    runner = ConnectorRunner(hub_env.services, [fanout], pumps=[WebhookSender(hub_env.services, http)])
    await runner.run_once()  # the cursor starts after the newest event
    first = await hub_env.customer_writes(id="m-1")
    await hub_env.customer_writes(id="m-2")
    while await runner.run_once():
        pass
    assert receiver.rejected == 0  # every signature checked out (the recipe in docs/channels/api.md)
    # Sent concurrently (and retried), so receivers order by the event id.
    events = sorted((p["event"] for p in receiver.received), key=lambda e: e["id"])
    assert [e["type"] for e in events] == ["conversation.created", "message.received", "message.received"]
    assert events[1]["data"]["message_id"] == first.message_id and "text" not in events[1]["data"]
    for payload, headers in zip(receiver.received, receiver.headers, strict=True):
        assert headers["X-Hub-Event"] == payload["event"]["type"]
        assert headers["X-Hub-Delivery"] == str(payload["delivery_id"])
    assert [d.state for d in await deliveries(hub_env)] == ["done"] * 3


async def test_failures_are_retried_with_backoff_and_logged_then_replayed(
    hub_env: Env, http: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    clock = FakeClock()
    subscription = await subscribe(hub_env, receiver.url)
    fanout = WebhookFanout("webhooks", ConnectorContext(hub_env.services, http))
    sender = WebhookSender(hub_env.services, http, clock=clock, max_attempts=2, rand=lambda: 0.0)
    receiver.script = [Answer(503, b"busy", {"Retry-After": "120"}), Answer(500, b"still busy")]
    await fanout.handle([Event("contact.updated", contact_id=1, data={"fields": ["name"]}, id=77)])
    await fanout.handle([Event("contact.updated", contact_id=1, data={"fields": ["name"]}, id=77)])  # again: no twin
    (delivery,) = await deliveries(hub_env)

    assert await sender.run_once() == 1
    (delivery,) = await deliveries(hub_env)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=120)
    assert await sender.run_once() == 0  # not due yet
    clock.advance(121)
    await sender.run_once()
    (delivery,) = await deliveries(hub_env)
    assert (delivery.state, delivery.attempts) == ("dead", 2)

    receiver.always = Answer(204)
    replayed = await replay_delivery(hub_env.services, admin_of(hub_env), subscription, delivery.id)
    assert replayed.state == "pending"
    with pytest.raises(Conflict):
        await replay_delivery(hub_env.services, admin_of(hub_env), subscription, delivery.id)
    await sender.run_once()
    (delivery,) = await deliveries(hub_env)
    assert delivery.state == "done" and delivery.delivered_at == clock.now
    async with hub_env.services.sessions() as session:
        log = (await session.execute(
            select(WebhookAttempt.status, WebhookAttempt.error, WebhookAttempt.replay).order_by(WebhookAttempt.id)
        )).all()
    assert log == [(503, "HTTP 503: busy", False), (500, "HTTP 500: still busy", False), (204, None, True)]


async def test_a_rejection_is_dead_at_once_and_an_unreachable_host_is_retried(
    hub_env: Env, http: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    clock = FakeClock()
    receiver.always = Answer(410, b"gone")
    await subscribe(hub_env, receiver.url)
    await create_subscription(hub_env.services, admin_of(hub_env), "closed", "http://127.0.0.1:9/hook", ["*"], None)
    fanout = WebhookFanout("webhooks", ConnectorContext(hub_env.services, http))
    await fanout.handle([Event("contact.created", contact_id=5, id=1)])
    await WebhookSender(hub_env.services, http, clock=clock, rand=lambda: 0.0).run_once()
    states = {d.subscription_id: (d.state, d.attempts) for d in await deliveries(hub_env)}
    assert sorted(states.values()) == [("dead", 1), ("pending", 1)]


async def test_targets_hub_may_not_call_are_refused(hub_env: Env) -> None:
    admin = admin_of(hub_env)
    for url in ("http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "ftp://example.com/x", "http://user:pw@127.0.0.1/x", "http://no-such-host.invalid/x"):
        with pytest.raises(ValidationFailed):
            await create_subscription(hub_env.services, admin, "bad", url, ["*"], None)
    with pytest.raises(ValidationFailed):
        await create_subscription(hub_env.services, admin, "bad", "http://127.0.0.1/x", ["no.such_event"], None)
    with pytest.raises(Forbidden):
        await create_subscription(hub_env.services, hub_env.supervisor, "x", "http://127.0.0.1/x", ["*"], None)
    created = await create_subscription(hub_env.services, admin, "ok", "http://127.0.0.1/x", ["*"], None)
    assert len(created.secret) >= 32
    with pytest.raises(ValidationFailed):
        await update_subscription(hub_env.services, admin, created.id, url="http://192.168.1.1/x")


async def test_connectors_get_committed_events_at_least_once_and_never_restricted_ones(
    hub_env: Env, http: aiohttp.ClientSession
) -> None:
    context = ConnectorContext(hub_env.services, http)
    recorder = Recorder("crm-sync", context)
    clock = FakeClock()
    runner = ConnectorRunner(hub_env.services, [recorder], clock=clock, rand=lambda: 0.0)
    await hub_env.customer_writes(id="before")  # the connector starts after this
    await runner.run_once()
    kept = await hub_env.customer_writes(id="m-1", email="kept@example.de")
    frozen = await hub_env.customer_writes(id="m-2", email="frozen@example.de")
    await restrict_processing(hub_env.services, admin_of(hub_env), frozen.contact_id, None)
    await hub_env.customer_writes(id="m-3", email="frozen@example.de")

    recorder.broken = True
    await runner.run_once()
    assert recorder.seen == []
    clock.advance(3600)  # past the backoff
    recorder.broken = False
    await runner.run_once()
    assert [(e.type, e.contact_id) for e in recorder.seen] == [("message.received", kept.contact_id)]
    # A second hub process with the same connector finds the cursor at the end; nothing twice.
    other = Recorder("crm-sync", context)
    assert await ConnectorRunner(hub_env.services, [other], clock=clock).run_once() == 0
    assert other.seen == []


async def test_a_round_without_new_events_writes_nothing(hub_env: Env, http: aiohttp.ClientSession) -> None:
    recorder = Recorder("crm-sync", ConnectorContext(hub_env.services, http))
    runner = ConnectorRunner(hub_env.services, [recorder])
    await hub_env.customer_writes(id="before")
    await runner.run_once()  # creates the cursor after the newest event
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    engine = hub_env.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert await runner.run_once() == 0
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements and set(statements) <= {"SELECT", "BEGIN", "COMMIT", "ROLLBACK"}


async def test_bus_wake_ups_are_gathered_into_spaced_rounds(hub_env: Env, http: aiohttp.ClientSession) -> None:
    recorder = Recorder("crm-sync", ConnectorContext(hub_env.services, http))
    runner = ConnectorRunner(hub_env.services, [recorder], poll_interval=60.0, min_interval=30.0)
    rounds = 0
    original = runner.run_once

    async def counted() -> int:
        nonlocal rounds
        rounds += 1
        return await original()

    runner.run_once = counted  # type: ignore[method-assign]
    await runner.start()
    try:
        for n in range(5):
            await hub_env.customer_writes(id=f"burst-{n}")
            runner.wake()
            await asyncio.sleep(0.05)
    finally:
        await runner.aclose()
    assert rounds == 1  # the first round, then the pause; aclose ends the pause without a round


async def test_without_subscriptions_events_are_skipped_unread_and_later_ones_delivered(
    hub_env: Env, http: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    receiver.always = Answer(200, b"ok")
    fanout = WebhookFanout("webhooks", ConnectorContext(hub_env.services, http))
    handled: list[int] = []
    original = fanout.handle

    async def spy(events: Sequence[Event]) -> None:
        handled.extend(e.id or 0 for e in events)
        await original(events)

    fanout.handle = spy  # type: ignore[method-assign]
    runner = ConnectorRunner(hub_env.services, [fanout], pumps=[WebhookSender(hub_env.services, http)])
    await runner.run_once()
    await hub_env.customer_writes(id="nobody-listens")
    assert await runner.run_once() > 0  # the cursor moved past them ...
    assert handled == []  # ... without handing them over (nothing could come of them)
    await subscribe(hub_env, receiver.url, ["message.received"])
    later = await hub_env.customer_writes(id="m-after")
    while await runner.run_once():
        pass
    assert [p["event"]["data"]["message_id"] for p in receiver.received] == [later.message_id]
