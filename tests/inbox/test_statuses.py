"""Provider delivery reports move an outbound message's status forwards only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.models import EventRecord, Message
from hub.inbox import actions
from hub.inbox.outbox import Dispatcher
from hub.inbox.statuses import allowed_from, apply_status_event
from hub.messages import DeliveryStatus, StatusEvent
from tests.inbox.outbound_env import Env, FakeClock


async def sent_message(env: Env) -> Message:
    inbound = await env.customer_writes()
    message = await actions.reply(
        env.services, env.agent, inbound.conversation_id, "Hallo", private=False, adapters=env.adapters
    )
    await Dispatcher(env.services, env.adapters, clock=FakeClock()).run_once()
    stored: Message = await env.get(Message, message.id)
    assert stored.status == "sent" and stored.provider_message_id == f"cb-{message.id}"
    return stored


def report(message: Message, status: DeliveryStatus, error: str | None = None) -> StatusEvent:
    assert message.provider_message_id is not None
    return StatusEvent(channel="web-form", provider_message_id=message.provider_message_id, status=status, error=error)


async def status_events(env: Env) -> list[tuple[str, str]]:
    async with env.services.sessions() as session:
        rows = await session.scalars(
            select(EventRecord).where(EventRecord.type == "message.status_changed").order_by(EventRecord.id)
        )
        return [(e.data["previous"], e.data["status"]) for e in rows]


def test_the_order_of_statuses() -> None:
    assert allowed_from(DeliveryStatus.DELIVERED) == ("queued", "sending", "sent")
    assert allowed_from(DeliveryStatus.READ) == ("queued", "sending", "sent", "delivered")
    assert allowed_from(DeliveryStatus.FAILED) == ("queued", "sending", "sent")
    assert allowed_from(DeliveryStatus.QUEUED) == ()


async def test_out_of_order_reports_never_move_the_status_backwards(hub_env: Env) -> None:
    message = await sent_message(hub_env)
    assert await apply_status_event(hub_env.services, report(message, DeliveryStatus.READ))
    for late in (DeliveryStatus.DELIVERED, DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.READ):
        assert not await apply_status_event(hub_env.services, report(message, late))
    assert (await hub_env.get(Message, message.id)).status == "read"
    assert (await status_events(hub_env))[-1] == ("sent", "read")


async def test_delivered_then_read_then_stale_failure(hub_env: Env) -> None:
    message = await sent_message(hub_env)
    assert await apply_status_event(hub_env.services, report(message, DeliveryStatus.DELIVERED))
    assert not await apply_status_event(hub_env.services, report(message, DeliveryStatus.FAILED, "late"))
    assert await apply_status_event(hub_env.services, report(message, DeliveryStatus.READ))
    stored = await hub_env.get(Message, message.id)
    assert (stored.status, stored.error) == ("read", None)
    assert (await status_events(hub_env))[-2:] == [("sent", "delivered"), ("delivered", "read")]


async def test_a_failure_before_delivery_is_recorded_and_final(hub_env: Env) -> None:
    message = await sent_message(hub_env)
    assert await apply_status_event(hub_env.services, report(message, DeliveryStatus.FAILED, "handset off"))
    assert not await apply_status_event(hub_env.services, report(message, DeliveryStatus.DELIVERED))
    stored = await hub_env.get(Message, message.id)
    assert (stored.status, stored.error) == ("failed", "handset off")


@pytest.mark.parametrize(("channel", "provider_id"), [("web-form", "nobody-knows"), ("nope", "cb-1")])
async def test_reports_on_unknown_messages_are_ignored(hub_env: Env, channel: str, provider_id: str) -> None:
    message = await sent_message(hub_env)
    events_before = await hub_env.count(EventRecord)
    event = StatusEvent(channel=channel, provider_message_id=provider_id, status=DeliveryStatus.DELIVERED)
    assert not await apply_status_event(hub_env.services, event)
    assert (await hub_env.get(Message, message.id)).status == "sent"
    assert await hub_env.count(EventRecord) == events_before


async def test_reports_never_touch_inbound_messages(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes(id="cb-shared")
    event = StatusEvent(channel="web-form", provider_message_id="cb-shared", status=DeliveryStatus.READ)
    assert not await apply_status_event(hub_env.services, event)
    assert (await hub_env.get(Message, inbound.message_id)).status == "received"
