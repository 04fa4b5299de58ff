"""The call model: opening, the monotonic state machine, the end of a call, routing's view of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.bootstrap import build_services, sync_config
from hub.calls import CallDirection, CallEvent, CallOutcome, CallState
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.db.models import (
    Call,
    Contact,
    ContactIdentity,
    Conversation,
    EventRecord,
    ThreadKey,
    TimelineEntry,
)
from hub.errors import NotFound, ValidationFailed
from hub.inbox.call_finish import end_wrap_ups
from hub.inbox.calls import record_call_event
from hub.inbox.ingest import ingest_batch
from hub.messages import InboundMessage, Sender, ThreadHint
from tests.inbox.call_env import CALLER, Env, at, call_env


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with call_env(database_url, tmp_path) as built:
        yield built


async def test_an_inbound_call_walks_from_the_menu_to_the_timeline(env: Env) -> None:
    opened = await env.report(CallState.IVR, 0, customer_name="Frau Kundin")
    assert opened.created and opened.contact_created
    call = await env.call(opened.call.id)
    assert (call.state, call.direction, call.from_number, call.to_number) == ("ivr", "in", CALLER, "+4930999")
    conversation = await env.conversation(call.conversation_id)
    assert conversation.queue_id is None  # not routed while in the menu
    assert conversation.waiting_since == at(0)
    async with env.services.sessions() as session:
        holder = await session.scalar(
            select(ContactIdentity.contact_id).where(ContactIdentity.kind == "phone", ContactIdentity.address == CALLER)
        )
        contact = await session.get(Contact, holder)
        assert contact is not None and contact.name == "Frau Kundin"
        key = await session.scalar(select(ThreadKey.key).where(ThreadKey.conversation_id == conversation.id))
    assert holder == call.contact_id == conversation.contact_id
    assert key == "call:c-1"

    await env.report(CallState.QUEUED, 10, queue="hotline")
    conversation = await env.conversation(call.conversation_id)
    assert conversation.queue_id == env.services.queues["hotline"]
    await env.report(CallState.RINGING, 25, agent=env.anna.id)
    talking = await env.report(CallState.TALKING, 30, agent="Anna@Example.test")
    assert talking.changed and talking.call.agent_id == env.anna.id
    conversation = await env.conversation(call.conversation_id)
    assert conversation.assignee_id == env.anna.id and conversation.waiting_since is None
    assert conversation.first_response_at == at(30)

    ended = await env.report(CallState.ENDED, 150)
    assert ended.call.state == "ended" and ended.call.outcome == "answered"
    assert (ended.call.wait_seconds, ended.call.talk_seconds) == (20, 120)  # queued at 10, answered at 30
    conversation = await env.conversation(call.conversation_id)
    assert conversation.status == "resolved"

    (entry,) = await env.calls_timeline()
    assert entry.contact_id == call.contact_id and entry.conversation_id == call.conversation_id
    assert entry.actor_user_id == env.anna.id and entry.occurred_at == at(150)
    assert entry.data == {"call_id": call.id, "direction": "in", "outcome": "answered",
                          "duration_seconds": 120, "wait_seconds": 20}
    updates = await env.events("call.updated")
    assert [(e.data["previous"], e.data["state"]) for e in updates] == [
        (None, "ivr"), ("ivr", "queued"), ("queued", "ringing"), ("ringing", "talking"), ("talking", "ended"),
    ]
    assert updates[-1].queue_id == env.services.queues["hotline"] and updates[-1].user_id == env.anna.id
    for event in updates:
        assert CALLER not in str(event.data) and "Kundin" not in str(event.data)
    (pop,) = await env.events("call.screen_pop")
    assert (pop.user_id, pop.queue_id, pop.contact_id) == (env.anna.id, None, call.contact_id)
    assert pop.data == {"call_id": call.id, "conversation_id": conversation.id, "contact_id": call.contact_id,
                        "direction": "in", "known_contact": False}
    statuses = await env.events("conversation.status_changed")
    assert [e.data["status"] for e in statuses] == ["resolved"]


async def test_late_and_repeated_reports_never_move_a_call_back(env: Env) -> None:
    await env.report(CallState.QUEUED, 0)
    await env.report(CallState.TALKING, 20, agent=env.anna.id)
    events_before = len(await env.events("call.updated"))
    for state, seconds in ((CallState.RINGING, 15), (CallState.QUEUED, 5), (CallState.IVR, 1),
                           (CallState.TALKING, 20), (CallState.QUEUED, 40)):
        late = await env.report(state, seconds, agent=env.ben.id if state is CallState.RINGING else None)
        assert not late.changed and late.call.state == "talking" and late.call.agent_id == env.anna.id
    await env.report(CallState.ENDED, 80)
    for _ in range(2):  # the PBX retries its hang-up, and a late answer arrives after it
        assert not (await env.report(CallState.ENDED, 80)).changed
        assert not (await env.report(CallState.TALKING, 21, agent=env.ben.id)).changed
    assert len(await env.events("call.updated")) == events_before + 1
    (entry,) = await env.calls_timeline()
    assert entry.data["duration_seconds"] == 60
    assert await env.count(Conversation) == 1 and await env.count(Call) == 1


async def test_a_missed_ring_sends_the_call_back_to_the_queue_for_the_next_agent(env: Env) -> None:
    await env.report(CallState.QUEUED, 0)
    await env.report(CallState.RINGING, 5, agent=env.anna.id)
    back = await env.report(CallState.QUEUED, 35)  # Anna did not answer within the offer timeout
    assert back.changed and back.call.state == "queued" and back.call.agent_id is None
    await env.report(CallState.RINGING, 40, agent=env.ben.id)
    taken = await env.report(CallState.TALKING, 45, agent=env.ben.id)
    assert taken.call.queued_at == at(0)  # the wait counts from the first time in the queue
    done = await env.report(CallState.ENDED, 105)
    assert (done.call.wait_seconds, done.call.talk_seconds, done.call.agent_id) == (45, 60, env.ben.id)


async def test_a_caller_who_hangs_up_while_waiting_is_an_abandoned_call(env: Env) -> None:
    await env.report(CallState.IVR, 0)
    await env.report(CallState.QUEUED, 8)
    gone = await env.report(CallState.ENDED, 50)
    assert (gone.call.outcome, gone.call.wait_seconds, gone.call.talk_seconds) == ("abandoned", 42, 0)
    assert (await env.conversation(gone.call.conversation_id)).status == "resolved"
    (entry,) = await env.calls_timeline()
    assert entry.actor_user_id is None
    assert entry.data == {"call_id": gone.call.id, "direction": "in", "outcome": "abandoned",
                          "duration_seconds": 0, "wait_seconds": 42}
    assert await env.count(EventRecord, EventRecord.type == "call.screen_pop") == 0


async def test_a_call_rung_by_the_pbx_and_never_taken_is_missed(env: Env) -> None:
    await env.report(CallState.RINGING, 0, agent=env.anna.id)
    missed = await env.report(CallState.ENDED, 25)
    assert (missed.call.outcome, missed.call.wait_seconds) == ("missed", 25)
    conversation = await env.conversation(missed.call.conversation_id)
    # Filed under the channel's queue once over, so the queue's agents see it in the history.
    assert conversation.queue_id == env.services.queues["hotline"] and conversation.assignee_id is None


async def test_one_end_of_call_report_can_carry_the_whole_call(env: Env) -> None:
    done = await env.report(CallState.ENDED, 300, started_at=at(200), answered_at=at(240), agent=env.ben.id)
    assert done.created and (done.call.outcome, done.call.agent_id) == ("answered", env.ben.id)
    assert (done.call.started_at, done.call.answered_at, done.call.ended_at) == (at(200), at(240), at(300))
    assert (done.call.wait_seconds, done.call.talk_seconds) == (40, 60)
    conversation = await env.conversation(done.call.conversation_id)
    assert (conversation.status, conversation.assignee_id) == ("resolved", env.ben.id)
    bare = await env.report(CallState.ENDED, 400, call_id="c-2")
    assert (bare.call.outcome, bare.call.talk_seconds) == ("missed", 0)


async def test_the_source_may_say_how_a_call_ended(env: Env) -> None:
    await env.report(CallState.QUEUED, 0)
    voicemail = await env.report(CallState.ENDED, 30, outcome=CallOutcome.VOICEMAIL)
    assert voicemail.call.outcome == "voicemail"


async def test_a_refused_call_is_logged_without_creating_a_contact(env: Env) -> None:
    refused = await env.report(CallState.ENDED, 0, outcome=CallOutcome.REJECTED,
                               customer=identities.phone("+4915100000001"), from_number="+4915100000001")
    assert refused.created and not refused.contact_created
    call = await env.call(refused.call.id)
    assert (call.state, call.outcome, call.contact_id, call.conversation_id) == ("ended", "rejected", None, None)
    assert await env.count(Contact) == 0 and await env.count(Conversation) == 0
    assert await env.count(TimelineEntry) == 0


async def test_a_refused_call_of_a_known_contact_lands_on_their_timeline(env: Env) -> None:
    first = await env.report(CallState.IVR, 0)
    await env.report(CallState.ENDED, 5)
    refused = await env.report(CallState.ENDED, 100, call_id="c-2", outcome=CallOutcome.REJECTED)
    assert refused.call.contact_id == first.call.contact_id and refused.call.conversation_id is None
    assert [e.data["outcome"] for e in await env.calls_timeline()] == ["abandoned", "rejected"]


async def test_an_agent_dials_out(env: Env) -> None:
    out = await env.report(CallState.RINGING, 0, direction=CallDirection.OUT, agent=env.anna.id,
                           from_number="+4930999", to_number=CALLER)
    conversation = await env.conversation(out.call.conversation_id)
    assert conversation.assignee_id == env.anna.id and conversation.waiting_since is None
    unanswered = await env.report(CallState.ENDED, 30, direction=CallDirection.OUT)
    assert (unanswered.call.outcome, unanswered.call.talk_seconds) == ("missed", 0)

    await env.report(CallState.RINGING, 100, call_id="c-2", direction=CallDirection.OUT, agent=env.ben.id)
    await env.report(CallState.TALKING, 110, call_id="c-2", direction=CallDirection.OUT)
    talked = await env.report(CallState.ENDED, 170, call_id="c-2", direction=CallDirection.OUT)
    assert (talked.call.outcome, talked.call.talk_seconds, talked.call.wait_seconds) == ("answered", 60, 10)
    assert [e.data["direction"] for e in await env.calls_timeline()] == ["out", "out"]
    assert await env.count(Contact) == 1  # both calls went to the same customer


async def test_an_answered_call_stays_in_wrap_up_for_the_queues_wrap_up_time(env: Env) -> None:
    await env.report(CallState.QUEUED, 0, queue="sales")
    await env.report(CallState.TALKING, 10, agent=env.anna.id)
    ended = await env.report(CallState.ENDED, 70)
    assert ended.call.state == "wrap_up" and ended.call.wrap_up_until == at(100)
    assert not (await env.report(CallState.ENDED, 70)).changed  # a repeated hang-up does not end the wrap-up
    assert await end_wrap_ups(env.services, now=at(99)) == 0
    assert await end_wrap_ups(env.services, now=at(100)) == 1
    assert (await env.call(ended.call.id)).state == "ended"
    last = (await env.events("call.updated"))[-1]
    assert (last.data["previous"], last.data["state"]) == ("wrap_up", "ended")
    assert await end_wrap_ups(env.services, now=at(200)) == 0


async def test_bad_reports_are_refused_and_change_nothing(env: Env) -> None:
    with pytest.raises(ValidationFailed, match="not known yet"):
        await env.report(CallState.TALKING, 0, customer=None)
    with pytest.raises(ValidationFailed, match="no active agent"):
        await env.report(CallState.TALKING, 0, agent="nobody@example.test")
    with pytest.raises(ValidationFailed, match="no queue named"):
        await env.report(CallState.QUEUED, 0, queue="nowhere")
    with pytest.raises(NotFound):
        await record_call_event(env.services, CallEvent("no-such-channel", "c-1", CallState.IVR,
                                                        customer=identities.phone(CALLER)))
    with pytest.raises(ValidationFailed, match="time-zone"):
        await env.report(CallState.IVR, 0, occurred_at=datetime(2030, 1, 1))
    for model in (Call, Contact, Conversation, EventRecord):
        assert await env.count(model) == 0


async def test_a_queued_call_needs_a_queue(env: Env, database_url: str, tmp_path: Path) -> None:
    settings = replace(env.services.settings, channels=(ChannelConfig("cti", "bare", None, {"token": "x"}),))
    services = build_services(settings)
    await sync_config(services)
    try:
        event = CallEvent("bare", "c-9", CallState.QUEUED, customer=identities.phone(CALLER))
        with pytest.raises(ValidationFailed, match="needs a queue"):
            await record_call_event(services, event)
    finally:
        await services.engine.dispose()


async def test_the_same_phone_by_call_and_by_text_message_is_one_contact(env: Env) -> None:
    call = await env.report(CallState.IVR, 0)
    text = InboundMessage(channel="web-form", provider_message_id="sms-1",
                          sender=Sender((identities.phone("whatsapp:+49 30 123456"),)), text="Rufen Sie zurück?")
    async with env.services.transaction() as unit:
        (result,), _ = await ingest_batch(unit.session, [text], env.services.endpoints, env.services.blobs, at(5))
    assert result.contact_id == call.call.contact_id

    first = InboundMessage(channel="web-form", provider_message_id="sms-2",
                           sender=Sender((identities.phone("+4940555"),)), text="Hallo")
    async with env.services.transaction() as unit:
        (texted,), _ = await ingest_batch(unit.session, [first], env.services.endpoints, env.services.blobs, at(6))
    later = await env.report(CallState.IVR, 10, call_id="c-2", customer=identities.phone("tel:+49-40-555"))
    assert later.call.contact_id == texted.contact_id and not later.contact_created


async def test_a_voicemail_message_joins_the_calls_conversation(env: Env) -> None:
    call = await env.report(CallState.QUEUED, 0)
    await env.report(CallState.ENDED, 30, outcome=CallOutcome.VOICEMAIL)
    voicemail = InboundMessage(channel="pbx", provider_message_id="vm-1",
                               sender=Sender((identities.phone(CALLER),)), text="(voicemail)",
                               thread=ThreadHint(references=("call:c-1",), join_open=False))
    async with env.services.transaction() as unit:
        (result,), _ = await ingest_batch(unit.session, [voicemail], env.services.endpoints, env.services.blobs, at(40))
    assert result.conversation_id == call.call.conversation_id


async def test_two_reports_of_a_new_call_at_once_open_it_once(env: Env) -> None:
    results = await asyncio.gather(env.report(CallState.IVR, 0), env.report(CallState.QUEUED, 1))
    assert sorted(r.created for r in results) == [False, True]
    assert await env.count(Call) == 1 and await env.count(Contact) == 1 and await env.count(Conversation) == 1
    assert (await env.call(results[0].call.id)).state == "queued"


async def test_two_hang_ups_at_once_end_the_call_once(env: Env) -> None:
    await env.report(CallState.TALKING, 0, agent=env.anna.id)
    results = await asyncio.gather(*(env.report(CallState.ENDED, 60) for _ in range(3)))
    assert sorted(r.changed for r in results) == [False, False, True]
    assert len(await env.calls_timeline()) == 1
    assert [e.data["state"] for e in await env.events("call.updated")] == ["talking", "ended"]
