"""Snoozed conversations open again when their time has come."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from hub.db.models import Conversation, EventRecord, TimelineEntry
from hub.inbox import actions
from hub.inbox.snoozer import Snoozer, wake_due
from tests.inbox.outbound_env import Env, FakeClock


async def test_wake_due_reopens_only_conversations_whose_snooze_ended(hub_env: Env) -> None:
    clock = FakeClock()
    early = await hub_env.customer_writes(id="a", email="a@example.de")
    late = await hub_env.customer_writes(id="b", email="b@example.de")
    for inbound, hours in ((early, 1), (late, 5)):
        await actions.set_status(
            hub_env.services, hub_env.agent, inbound.conversation_id, "snoozed",
            clock.now + timedelta(hours=hours), now=clock.now,
        )
    assert await wake_due(hub_env.services, clock.advance(1800)) == []
    assert await wake_due(hub_env.services, clock.advance(1800)) == [early.conversation_id]
    assert await wake_due(hub_env.services, clock.now) == []  # never twice
    woken = await hub_env.get(Conversation, early.conversation_id)
    assert (woken.status, woken.snoozed_until) == ("open", None)
    assert (await hub_env.get(Conversation, late.conversation_id)).status == "snoozed"
    async with hub_env.services.sessions() as session:
        entry = (await session.scalars(select(TimelineEntry).order_by(TimelineEntry.id.desc()).limit(1))).one()
        event = (await session.scalars(select(EventRecord).order_by(EventRecord.id.desc()).limit(1))).one()
    assert (entry.kind, entry.conversation_id, entry.data["to"]) == ("status_changed", early.conversation_id, "open")
    assert (event.type, event.data["previous"], event.data["status"]) == ("conversation.status_changed", "snoozed", "open")


async def test_the_snoozer_worker_wakes_conversations_on_its_clock(hub_env: Env) -> None:
    clock = FakeClock()
    inbound = await hub_env.customer_writes()
    await actions.set_status(
        hub_env.services, hub_env.agent, inbound.conversation_id, "snoozed",
        clock.now + timedelta(days=3), now=clock.now,
    )
    clock.advance(3 * 86_400 + 1)
    subscription = hub_env.services.bus.subscribe()
    worker = Snoozer(hub_env.services, clock=clock, interval=3600)
    await worker.start()  # its first round runs at once
    try:
        async with asyncio.timeout(20):
            event = await subscription.get()
    finally:
        await worker.aclose()
        subscription.close()
    assert (event.type, event.conversation_id) == ("conversation.status_changed", inbound.conversation_id)
    assert (await hub_env.get(Conversation, inbound.conversation_id)).status == "open"
