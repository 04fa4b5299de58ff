"""The dispatcher checks the reply window again when it sends: a retry may fall after it closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.channels.base import Capabilities
from hub.db.models import Message, OutboxItem
from hub.inbox import actions
from hub.inbox.outbox import Dispatcher
from hub.messages import Template
from tests.inbox.callback_receiver import Answer
from tests.inbox.outbound_env import Env, FakeClock

WINDOWED = Capabilities(reply_window=timedelta(hours=24), templates=True)


async def test_a_reply_whose_window_closed_before_a_retry_is_a_dead_letter(hub_env: Env) -> None:
    hub_env.adapters["web-form"].capabilities = WINDOWED
    start = datetime.now(UTC)
    inbound = await hub_env.customer_writes(now=start)
    reply = await actions.reply(hub_env.services, hub_env.agent, inbound.conversation_id, "Moment",
                                private=False, adapters=hub_env.adapters, now=start)
    template = await actions.reply(hub_env.services, hub_env.agent, inbound.conversation_id, "",
                                   private=False, adapters=hub_env.adapters, now=start,
                                   template=Template("follow_up", "de"))
    hub_env.receiver.script = [Answer(503, b"busy"), Answer(503, b"busy")]
    clock = FakeClock(start + timedelta(seconds=1))
    worker = Dispatcher(hub_env.services, hub_env.adapters, clock=clock, rand=lambda: 0.0)
    assert await worker.run_once() == 2
    clock.advance(25 * 3600)
    assert await worker.run_once() == 2
    async with hub_env.services.sessions() as session:
        rows = {m.id: (m.status, m.error) for m in await session.scalars(select(Message).where(Message.direction == "out"))}
        states = {o.message_id: o.state for o in await session.scalars(select(OutboxItem))}
    assert states == {reply.id: "dead", template.id: "done"}
    status, error = rows[reply.id]
    assert status == "failed" and error is not None
    assert error.startswith("not sent: outside the 24-hour window")
    assert rows[template.id][0] == "sent"  # a template may go out any time
