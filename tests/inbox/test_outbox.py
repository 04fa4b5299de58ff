"""The outbox dispatcher against a real callback receiver that verifies the HMAC signature."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db.models import AuditEntry, Conversation, EventRecord, Message, OutboxItem
from hub.errors import Conflict, Forbidden
from hub.inbox import actions
from hub.inbox.dead_letters import retry_dead
from hub.inbox.outbox import Dispatcher, backoff_delay
from tests.inbox.callback_receiver import Answer, CallbackReceiver
from tests.inbox.outbound_env import Env, FakeClock


async def queue_reply(env: Env, text: str = "Ist unterwegs.", **ingest: str) -> Message:
    inbound = await env.customer_writes(**ingest)
    return await actions.reply(
        env.services, env.agent, inbound.conversation_id, text, private=False, adapters=env.adapters
    )


def dispatcher(env: Env, clock: FakeClock, **options: object) -> Dispatcher:
    return Dispatcher(env.services, env.adapters, clock=clock, rand=lambda: 0.0, **options)  # type: ignore[arg-type]


async def outbox_of(env: Env, message_id: int) -> OutboxItem:
    async with env.services.sessions() as session:
        return (await session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id))).one()


async def event_types(env: Env) -> list[str]:
    async with env.services.sessions() as session:
        return list((await session.scalars(select(EventRecord.type).order_by(EventRecord.id))).all())


def test_backoff_grows_exponentially_and_honours_retry_after() -> None:
    assert [backoff_delay(n, rand=lambda: 1.0) for n in (1, 2, 3)] == [15.0, 30.0, 60.0]
    assert backoff_delay(1, rand=lambda: 0.0) == 7.5  # half of it is jitter
    assert backoff_delay(30, rand=lambda: 1.0) == 3600.0  # capped
    assert backoff_delay(1, 120.0, rand=lambda: 1.0) == 120.0
    assert backoff_delay(5, 1.0, rand=lambda: 1.0) == 240.0  # a short Retry-After does not shorten it
    assert backoff_delay(1, 10**9, rand=lambda: 0.0) == 6 * 3600.0


async def test_a_reply_reaches_the_callback_signed_and_is_marked_sent(hub_env: Env) -> None:
    message = await queue_reply(hub_env, thread="order-4711")
    clock = FakeClock()
    assert await dispatcher(hub_env, clock).run_once() == 1
    (payload,) = hub_env.receiver.received
    assert hub_env.receiver.rejected == 0
    assert payload["id"] == str(message.id)
    assert payload["conversation_id"] == message.conversation_id
    assert payload["recipient"] == {"email": "kunde@example.de"}
    assert payload["text"] == "Ist unterwegs."
    assert payload["thread"] == "order-4711"
    assert hub_env.receiver.headers[0]["Idempotency-Key"] == f"hub-message-{message.id}"
    sent = await hub_env.get(Message, message.id)
    assert (sent.status, sent.provider_message_id, sent.sent_at) == ("sent", f"cb-{message.id}", clock.now)
    outbox = await outbox_of(hub_env, message.id)
    assert (outbox.state, outbox.attempts, outbox.locked_until) == ("done", 1, None)
    assert (await event_types(hub_env))[-1] == "message.status_changed"
    assert await dispatcher(hub_env, clock).run_once() == 0  # done rows are never sent again


async def test_a_503_with_retry_after_is_retried_after_that_time(hub_env: Env) -> None:
    message = await queue_reply(hub_env)
    hub_env.receiver.script = [Answer(503, b"busy", {"Retry-After": "120"})]
    clock = FakeClock()
    worker = dispatcher(hub_env, clock)
    await worker.run_once()
    outbox = await outbox_of(hub_env, message.id)
    assert (outbox.state, outbox.attempts) == ("pending", 1)
    assert outbox.next_attempt_at == clock.now + timedelta(seconds=120)
    assert outbox.last_error is not None and "503" in outbox.last_error
    assert (await hub_env.get(Message, message.id)).status == "queued"
    clock.advance(60)
    assert await worker.run_once() == 0  # not due yet
    clock.advance(61)
    assert await worker.run_once() == 1
    assert (await hub_env.get(Message, message.id)).status == "sent"
    assert hub_env.receiver.ids() == [str(message.id), str(message.id)]


async def test_a_permanent_rejection_fails_the_message_and_dead_letters_it(hub_env: Env) -> None:
    message = await queue_reply(hub_env)
    hub_env.receiver.script = [Answer(400, b"unknown recipient")]
    await dispatcher(hub_env, FakeClock()).run_once()
    failed = await hub_env.get(Message, message.id)
    assert failed.status == "failed" and "400" in failed.error and "unknown recipient" in failed.error
    outbox = await outbox_of(hub_env, message.id)
    assert (outbox.state, outbox.attempts) == ("dead", 1)
    assert {"message.status_changed", "outbox.dead_lettered"} <= set(await event_types(hub_env))


async def test_after_max_attempts_a_transient_failure_becomes_a_dead_letter(hub_env: Env) -> None:
    message = await queue_reply(hub_env)
    hub_env.receiver.always = Answer(502, b"bad gateway")
    clock = FakeClock()
    worker = dispatcher(hub_env, clock, max_attempts=3)
    for _ in range(3):
        assert await worker.run_once() == 1
        clock.advance(86_400)
    assert await worker.run_once() == 0
    outbox = await outbox_of(hub_env, message.id)
    assert (outbox.state, outbox.attempts) == ("dead", 3)
    failed = await hub_env.get(Message, message.id)
    assert failed.status == "failed" and failed.error.startswith("gave up after 3 tries")
    assert len(hub_env.receiver.received) == 3


async def test_a_retried_dead_letter_is_delivered(hub_env: Env) -> None:
    message = await queue_reply(hub_env)
    hub_env.receiver.script = [Answer(400, b"no")]
    clock = FakeClock()
    worker = dispatcher(hub_env, clock)
    await worker.run_once()
    outbox = await outbox_of(hub_env, message.id)
    with pytest.raises(Forbidden):
        await retry_dead(hub_env.services, hub_env.agent, outbox.id)
    retried = await retry_dead(hub_env.services, hub_env.supervisor, outbox.id, now=clock.now)
    assert (retried.state, retried.attempts) == ("pending", 0)
    assert (await hub_env.get(Message, message.id)).status == "queued"
    with pytest.raises(Conflict):
        await retry_dead(hub_env.services, hub_env.supervisor, outbox.id)
    assert await worker.run_once() == 1
    delivered = await hub_env.get(Message, message.id)
    assert (delivered.status, delivered.error) == ("sent", None)
    async with hub_env.services.sessions() as session:
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retried"))).one()
    assert (audit.actor_user_id, audit.object_id) == (hub_env.supervisor.user_id, str(outbox.id))


async def test_a_leased_row_is_not_claimed_again_until_the_lease_ends(hub_env: Env) -> None:
    await queue_reply(hub_env)
    clock = FakeClock()
    first, second = dispatcher(hub_env, clock), dispatcher(hub_env, clock)
    assert len(await first.claim(10)) == 1
    assert await second.claim(10) == []
    clock.advance(first.lease.total_seconds() + 1)  # the first one died mid-send
    assert len(await second.claim(10)) == 1


async def test_two_dispatchers_racing_send_every_message_exactly_once(
    hub_env: Env, database_url: str, tmp_path: Path
) -> None:
    from hub.bootstrap import build_services, sync_config
    from hub.bus import InProcessBus

    messages = [await queue_reply(hub_env, id=f"m-{i}", email=f"k{i}@example.de") for i in range(24)]
    hub_env.receiver.delay = 0.005
    other = build_services(hub_env.services.settings, bus=InProcessBus())  # a second hub process
    await sync_config(other)
    try:
        clock = FakeClock()
        workers = [
            Dispatcher(hub_env.services, hub_env.adapters, clock=clock, batch_size=4, concurrency=4),
            Dispatcher(other, hub_env.adapters, clock=clock, batch_size=4, concurrency=4),
        ]

        async def drain(worker: Dispatcher) -> int:
            total = 0
            while (claimed := await worker.run_once()) > 0:
                total += claimed
            return total

        counts = await asyncio.gather(*(drain(w) for w in workers))
    finally:
        await other.engine.dispose()
    assert sum(counts) == len(messages)
    assert sorted(hub_env.receiver.ids()) == sorted(str(m.id) for m in messages)
    assert await hub_env.count(OutboxItem, OutboxItem.state == "done") == len(messages)


async def test_a_private_note_never_reaches_the_callback(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "geheim", private=True, adapters=hub_env.adapters
    )
    reply = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "öffentlich", private=False, adapters=hub_env.adapters
    )
    await dispatcher(hub_env, FakeClock()).run_once()
    assert [p["text"] for p in hub_env.receiver.received] == ["öffentlich"]
    assert hub_env.receiver.ids() == [str(reply.id)]


async def test_wake_sends_at_once_and_shutdown_finishes_the_send_in_flight(hub_env: Env) -> None:
    worker = Dispatcher(hub_env.services, hub_env.adapters, poll_interval=3600)
    await worker.start()
    hub_env.receiver.gate = asyncio.Event()
    message = await queue_reply(hub_env)
    worker.wake()
    await asyncio.wait_for(hub_env.receiver.in_flight.wait(), 20)
    closing = asyncio.create_task(worker.aclose())
    await asyncio.sleep(0)
    assert not closing.done()  # it waits for the send
    hub_env.receiver.gate.set()
    await asyncio.wait_for(closing, 20)
    assert (await hub_env.get(Message, message.id)).status == "sent"


async def test_an_unknown_channel_or_missing_recipient_is_a_dead_letter(hub_env: Env) -> None:
    message = await queue_reply(hub_env)
    worker = Dispatcher(hub_env.services, {}, clock=FakeClock())
    await worker.run_once()
    outbox = await outbox_of(hub_env, message.id)
    assert outbox.state == "dead" and outbox.last_error == "the channel is not configured in this hub"
    orphan = await queue_reply(hub_env, id="m-2", email="other@example.de")
    async with hub_env.services.sessions() as session, session.begin():
        conversation = await session.get(Conversation, orphan.conversation_id)
        assert conversation is not None
        conversation.identity_id = None  # e.g. the identity was erased
    await dispatcher(hub_env, FakeClock()).run_once()
    assert (await outbox_of(hub_env, orphan.id)).last_error == "the conversation has no recipient address"
    assert (await hub_env.get(Message, orphan.id)).status == "failed"
    assert hub_env.receiver.received == []


async def test_receiver_verification_rejects_a_wrong_signature(receiver: CallbackReceiver) -> None:
    import time

    from hub.signing import sign

    body = b'{"id": "1"}'
    now = int(time.time())
    good = {"X-Hub-Timestamp": str(now), "X-Hub-Signature-256": sign(receiver.secret, now, body)}
    assert receiver.verify(good, body)
    assert not receiver.verify(good, body + b" ")
    assert not receiver.verify({**good, "X-Hub-Timestamp": str(now - 1)}, body)
    stale = now - 3600
    assert not receiver.verify(
        {"X-Hub-Timestamp": str(stale), "X-Hub-Signature-256": sign(receiver.secret, stale, body)}, body
    )
