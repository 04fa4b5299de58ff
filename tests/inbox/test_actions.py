"""Reply, note, assign and status actions: one transaction each, timeline and events included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select

from hub.channels.api import ApiChannel
from hub.channels.base import Capabilities
from hub.db.models import Conversation, EventRecord, Message, OutboxItem, TimelineEntry, User
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.inbox import actions
from tests.inbox.outbound_env import Env


async def timeline(env: Env) -> list[tuple[str, int | None, dict[str, object]]]:
    async with env.services.sessions() as session:
        rows = await session.execute(
            select(TimelineEntry.kind, TimelineEntry.actor_user_id, TimelineEntry.data).order_by(TimelineEntry.id)
        )
        return [(kind, actor, data) for kind, actor, data in rows]


async def events(env: Env, type_: str) -> list[EventRecord]:
    async with env.services.sessions() as session:
        return list((await session.scalars(select(EventRecord).where(EventRecord.type == type_))).all())


async def test_a_reply_is_queued_with_its_outbox_row_timeline_and_event(hub_env: Env) -> None:
    arrived = datetime.now(UTC) - timedelta(minutes=5)
    inbound = await hub_env.customer_writes(now=arrived)
    message = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Ist unterwegs.",
        private=False, adapters=hub_env.adapters,
    )
    assert (message.direction, message.status, message.private) == ("out", "queued", False)
    assert message.author_user_id == hub_env.agent.user_id
    async with hub_env.services.sessions() as session:
        outbox = (await session.scalars(select(OutboxItem))).one()
        assert (outbox.message_id, outbox.state, outbox.attempts) == (message.id, "pending", 0)
        conversation = await session.get(Conversation, inbound.conversation_id)
        assert conversation is not None
        assert conversation.waiting_since is None
        assert conversation.first_response_at == message.created_at
    assert (await timeline(hub_env))[-1] == ("message_out", hub_env.agent.user_id, {})
    (created,) = await events(hub_env, "message.created")
    assert created.conversation_id == inbound.conversation_id
    assert created.queue_id == hub_env.services.queues["support"]
    assert created.data["message_id"] == message.id and created.data["private"] is False
    assert "text" not in created.data


class LiveChannel(ApiChannel):
    """A channel whose client follows some conversations live (as an open web chat widget does)."""

    following: ClassVar[set[int]] = set()

    def delivers_live(self, conversation_id: int) -> bool:
        return conversation_id in self.following


async def test_a_reply_the_channel_delivers_live_is_sent_at_once_without_an_outbox_row(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    other = await hub_env.customer_writes(id="m-2", email="andere@example.de")
    web_form = hub_env.adapters["web-form"]
    live = LiveChannel(web_form.config, web_form.context)
    LiveChannel.following = {inbound.conversation_id}
    message = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Schon unterwegs.",
        private=False, adapters={"web-form": live},
    )
    assert (message.status, message.sent_at) == ("sent", message.created_at)
    assert await hub_env.count(OutboxItem) == 0
    conversation = await hub_env.get(Conversation, inbound.conversation_id)
    assert conversation.first_response_at == message.created_at and conversation.waiting_since is None
    (created,) = await events(hub_env, "message.created")
    assert created.data["message_id"] == message.id and created.data["status"] == "sent"
    assert await events(hub_env, "message.status_changed") == []
    # A conversation no client follows goes through the outbox as before.
    queued = await actions.reply(
        hub_env.services, hub_env.agent, other.conversation_id, "Moment bitte.",
        private=False, adapters={"web-form": live},
    )
    assert (queued.status, queued.sent_at) == ("queued", None)
    async with hub_env.services.sessions() as session:
        assert (await session.scalars(select(OutboxItem.message_id))).all() == [queued.id]


async def test_only_the_first_reply_sets_the_first_response_time(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    first = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Eins", private=False, adapters=hub_env.adapters
    )
    await hub_env.customer_writes(id="m-2")
    later = datetime.now(UTC) + timedelta(minutes=1)
    await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Zwei",
        private=False, adapters=hub_env.adapters, now=later,
    )
    conversation = await hub_env.get(Conversation, inbound.conversation_id)
    assert conversation.first_response_at == first.created_at
    assert conversation.waiting_since is None  # the second reply cleared the new wait too


async def test_a_private_note_is_stored_but_never_queued(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    note = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Kunde ist VIP",
        private=True, adapters=hub_env.adapters,
    )
    assert (note.private, note.status) == (True, actions.NOTE_STATUS)
    assert await hub_env.count(OutboxItem) == 0
    conversation = await hub_env.get(Conversation, inbound.conversation_id)
    assert conversation.waiting_since is not None and conversation.first_response_at is None
    assert (await timeline(hub_env))[-1][0] == "note"


async def test_a_reply_on_a_channel_that_cannot_send_is_409_and_writes_nothing(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes(channel="shop")
    before = [await hub_env.count(m) for m in (Message, OutboxItem, TimelineEntry, EventRecord)]
    with pytest.raises(Conflict, match="cannot send"):
        await actions.reply(
            hub_env.services, hub_env.outsider, inbound.conversation_id, "Hallo",
            private=False, adapters=hub_env.adapters,
        )
    assert [await hub_env.count(m) for m in (Message, OutboxItem, TimelineEntry, EventRecord)] == before
    note = await actions.reply(
        hub_env.services, hub_env.outsider, inbound.conversation_id, "intern", private=True, adapters=hub_env.adapters
    )
    assert note.status == "note"


class TinyChannel(ApiChannel):
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=10)


async def test_a_reply_longer_than_the_channel_carries_is_refused(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    web_form = hub_env.adapters["web-form"]
    tiny = TinyChannel(web_form.config, web_form.context)
    with pytest.raises(ValidationFailed, match="at most 10"):
        await actions.reply(
            hub_env.services, hub_env.agent, inbound.conversation_id, "x" * 11,
            private=False, adapters={"web-form": tiny},
        )
    with pytest.raises(ValidationFailed, match="empty"):
        await actions.reply(
            hub_env.services, hub_env.agent, inbound.conversation_id, "  \n",
            private=False, adapters=hub_env.adapters,
        )
    assert await hub_env.count(Message, Message.direction == "out") == 0


async def test_another_queues_agent_cannot_touch_the_conversation(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    cid = inbound.conversation_id
    with pytest.raises(NotFound):
        await actions.reply(hub_env.services, hub_env.outsider, cid, "x", private=True, adapters=hub_env.adapters)
    with pytest.raises(NotFound):
        await actions.assign(hub_env.services, hub_env.outsider, cid, hub_env.outsider.user_id)
    with pytest.raises(NotFound):
        await actions.set_status(hub_env.services, hub_env.outsider, cid, "resolved")
    with pytest.raises(NotFound):
        await actions.set_status(hub_env.services, hub_env.agent, 999_999, "resolved")
    assert await hub_env.count(TimelineEntry, TimelineEntry.kind != "message_in") == 0


async def test_agents_take_and_release_conversations_for_themselves_only(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    cid = inbound.conversation_id
    agent, colleague = hub_env.agent, hub_env.colleague
    with pytest.raises(Forbidden):
        await actions.assign(hub_env.services, agent, cid, colleague.user_id)
    taken = await actions.assign(hub_env.services, agent, cid, agent.user_id)
    assert taken.assignee_id == agent.user_id
    with pytest.raises(Conflict):
        await actions.assign(hub_env.services, colleague, cid, colleague.user_id)
    with pytest.raises(Forbidden):
        await actions.assign(hub_env.services, colleague, cid, None)
    released = await actions.assign(hub_env.services, agent, cid, None)
    assert released.assignee_id is None
    assigned = [e.data for e in await events(hub_env, "conversation.assigned")]
    assert [(d["previous_assignee_id"], d["assignee_id"]) for d in assigned] == [
        (None, agent.user_id),
        (agent.user_id, None),
    ]
    kinds = [(k, d) for k, _, d in await timeline(hub_env) if k == "assigned"]
    assert kinds == [("assigned", {"from": None, "to": agent.user_id}), ("assigned", {"from": agent.user_id, "to": None})]


async def test_a_supervisor_assigns_any_active_user(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    cid = inbound.conversation_id
    conversation = await actions.assign(hub_env.services, hub_env.supervisor, cid, hub_env.outsider.user_id)
    assert conversation.assignee_id == hub_env.outsider.user_id
    (event,) = await events(hub_env, "conversation.assigned")
    assert event.user_id == hub_env.outsider.user_id  # the new assignee sees it
    # Now assigned to them, the billing agent may see and answer it.
    await actions.reply(hub_env.services, hub_env.outsider, cid, "ok", private=True, adapters=hub_env.adapters)
    async with hub_env.services.sessions() as session, session.begin():
        user = await session.get(User, hub_env.colleague.user_id)
        assert user is not None
        user.active = False
    with pytest.raises(ValidationFailed):
        await actions.assign(hub_env.services, hub_env.supervisor, cid, hub_env.colleague.user_id)
    with pytest.raises(ValidationFailed):
        await actions.assign(hub_env.services, hub_env.supervisor, cid, 424242)
    unchanged = await actions.assign(hub_env.services, hub_env.supervisor, cid, hub_env.outsider.user_id)
    assert unchanged.assignee_id == hub_env.outsider.user_id
    assert len(await events(hub_env, "conversation.assigned")) == 1


async def test_resolving_stamps_and_reopening_clears_resolved_at(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    cid = inbound.conversation_id
    resolved = await actions.set_status(hub_env.services, hub_env.agent, cid, "resolved")
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    reopened = await actions.set_status(hub_env.services, hub_env.agent, cid, "pending")
    assert reopened.status == "pending" and reopened.resolved_at is None
    await actions.set_status(hub_env.services, hub_env.agent, cid, "pending")  # no change, no event
    changes = [(e.data["previous"], e.data["status"]) for e in await events(hub_env, "conversation.status_changed")]
    assert changes == [("open", "resolved"), ("resolved", "pending")]
    kinds = [d for k, _, d in await timeline(hub_env) if k == "status_changed"]
    assert kinds == [{"from": "open", "to": "resolved"}, {"from": "resolved", "to": "pending"}]


async def test_snoozing_needs_a_future_time_with_offset(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    cid = inbound.conversation_id
    now = datetime.now(UTC)
    bad = [
        ("snoozed", None),
        ("snoozed", now - timedelta(minutes=1)),
        ("snoozed", datetime(2099, 1, 1, 9, 0)),  # naive
        ("open", now + timedelta(hours=1)),
        ("closed", None),
    ]
    for status, until in bad:
        with pytest.raises(ValidationFailed):
            await actions.set_status(hub_env.services, hub_env.agent, cid, status, until)
    until = now + timedelta(hours=2)
    snoozed = await actions.set_status(hub_env.services, hub_env.agent, cid, "snoozed", until)
    assert snoozed.status == "snoozed" and snoozed.snoozed_until == until
    opened = await actions.set_status(hub_env.services, hub_env.agent, cid, "open")
    assert opened.snoozed_until is None
