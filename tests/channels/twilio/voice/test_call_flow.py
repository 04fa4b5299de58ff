"""A whole call: IVR → queue → agent 1 does not answer (set away) → agent 2 answers → completed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.db.models import Conversation, TimelineEntry
from tests.channels.twilio.twilio_api import API
from tests.channels.twilio.voice.harness import (
    CALLER,
    Client,
    VoiceApi,
    call_params,
    call_row,
    call_sid,
    events_of,
    query_of,
    voice_hub,
)
from tests.factories import TestUser, create_user, services_of
from tests.routing.conftest import eventually, presence


async def _agent(client: Client, phone: str) -> TestUser:
    agent = await create_user(services_of(client), role="agent", queues=["billing", "support"])
    resp = await client.put("/api/v1/agents/me/phone", json={"phone": phone}, headers=agent.headers)
    assert resp.status == 200, await resp.text()
    return agent


async def _dial(api: VoiceApi, sid: str, count: int) -> ET.Element:
    """The ``<Dial>`` the hub put the call into with its ``count``-th REST update."""
    updates = await api.wait_for(f"{API}/Calls/{sid}.json", count)
    form = updates[count - 1].form
    root = ET.fromstring(form["Twiml"])
    (dial,) = root
    assert dial.tag == "Dial"
    return dial


async def _rang(client: Client, conversation_id: int, agent_id: int) -> Any:
    """The ``call.updated`` that showed the call ringing at the agent (it may have timed out since)."""
    events = await events_of(client, conversation_id, "call.updated")
    return next((e for e in events if e.data["state"] == "ringing" and e.data["agent_id"] == agent_id), None)


async def test_a_call_goes_through_the_menu_and_the_queue_to_the_second_agent(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, api, twilio):
        first = await _agent(client, "+4930111111")
        second = await _agent(client, "+4930222222")
        await presence(client, first.headers, "available")
        sid = call_sid()
        api.add_call(sid)

        menu = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert menu is not None and menu[0].tag == "Gather"
        row = await call_row(client, sid)
        assert row is not None and row.state == "ivr" and row.from_number == CALLER

        enqueue = await twilio.post_url(menu[0].get("action", ""), call_params(sid, Digits="1"))
        assert enqueue is not None and [(c.tag, c.text) for c in enqueue] == [("Enqueue", "hotline.billing")]
        row = await call_row(client, sid)
        assert row is not None and row.state in ("queued", "ringing")
        async with services_of(client).sessions() as session:
            conversation = await session.get(Conversation, row.conversation_id)
            assert conversation is not None and conversation.queue_id == services_of(client).queues["billing"]

        wait = await twilio.post_url(enqueue[0].get("waitUrl", ""), call_params(sid, QueuePosition="1",
                                                                                QueueTime="3", CurrentQueueSize="1"))
        assert wait is not None and [c.tag for c in wait] == ["Say", "Play"]
        assert wait[0].text == "Sie sind an Position 1 in der Warteschlange."

        # Routing offers the call to the first agent: the hub moves the call into a Dial of their phone.
        dial = await _dial(api, sid, 1)
        assert [(n.tag, n.text) for n in dial] == [("Number", "+4930111111")]
        assert int(dial.get("timeout", "0")) <= 1
        first_offer = int(query_of(dial.get("action", ""))["offer"])
        rang = await eventually(lambda: _rang(client, row.conversation_id, first.id), what="the call ringing")
        assert rang.data["previous"] == "queued"

        # Nobody answers: back into the Twilio queue; routing counts the miss and sets the agent away.
        back = await twilio.post_url(dial.get("action", ""), call_params(sid, DialCallStatus="no-answer"))
        assert back is not None and [(c.tag, c.text) for c in back] == [("Enqueue", "hotline.billing")]
        me = await eventually(lambda: _away(client, first), what="the first agent set away")
        assert me["reason"] == "missed_offers"
        await presence(client, second.headers, "available")

        dial = await _dial(api, sid, 2)
        assert [(n.tag, n.text) for n in dial] == [("Number", "+4930222222")]
        second_offer = int(query_of(dial.get("action", ""))["offer"])
        assert second_offer != first_offer

        # The second agent picks up: the whisper names the queue, the call is theirs.
        whisper_url = dial[0].get("url", "")
        whisper = await twilio.post_url(whisper_url, call_params(call_sid(), Direction="outbound-dial",
                                                                 ParentCallSid=sid, To="+4930222222"))
        assert whisper is not None and [(c.tag, c.text) for c in whisper] == [
            ("Say", "Anruf aus der Warteschlange billing.")]
        row = await call_row(client, sid)
        assert row is not None and row.state == "talking" and row.agent_id == second.id
        async with services_of(client).sessions() as session:
            conversation = await session.get(Conversation, row.conversation_id)
            assert conversation is not None and conversation.assignee_id == second.id

        done = await twilio.post_url(dial.get("action", ""), call_params(sid, DialCallStatus="completed",
                                                                         DialCallDuration="42"))
        assert done is not None and [c.tag for c in done] == ["Say", "Hangup"]
        row = await call_row(client, sid)
        assert row is not None and row.state in ("ended", "wrap_up") and row.outcome == "answered"
        assert row.wait_seconds is not None and row.talk_seconds is not None

        # Twilio's status callback and a retried dial report change nothing more.
        updates = len(await events_of(client, row.conversation_id, "call.updated"))
        await twilio.post("status", call_params(sid, CallStatus="completed", CallDuration="50"))
        await twilio.post_url(dial.get("action", ""), call_params(sid, DialCallStatus="completed"))
        assert len(await events_of(client, row.conversation_id, "call.updated")) == updates

        async with services_of(client).sessions() as session:
            entries = (await session.scalars(
                select(TimelineEntry).where(TimelineEntry.contact_id == row.contact_id, TimelineEntry.kind == "call")
            )).all()
        (entry,) = entries
        assert entry.data["outcome"] == "answered"
        assert entry.data["duration_seconds"] == row.talk_seconds
        assert entry.data["wait_seconds"] == row.wait_seconds
        assert len(api.call_updates(sid)) == 2  # exactly one REST update per agent rung


async def _away(client: Client, agent: TestUser) -> Any:
    resp = await client.get("/api/v1/agents/me", headers=agent.headers)
    me = await resp.json()
    return me if me["status"] == "away" else None


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned_with_the_wait_time(
    database_url: str, tmp_path: Path,
) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, api, twilio):
        sid = call_sid()
        menu = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert menu is not None
        enqueue = await twilio.post_url(menu[0].get("action", ""), call_params(sid, SpeechResult="Ich brauche Hilfe"))
        assert enqueue is not None and enqueue[0].text == "hotline.support"
        exit_url = enqueue[0].get("action", "")
        await twilio.post_url(exit_url, call_params(sid, QueueResult="hangup", QueueTime="17"))
        row = await call_row(client, sid)
        assert row is not None and row.state == "ended" and row.outcome == "abandoned"
        assert row.wait_seconds is not None and row.talk_seconds == 0
        async with services_of(client).sessions() as session:
            conversation = await session.get(Conversation, row.conversation_id)
            assert conversation is not None and conversation.status == "resolved"
        before = await events_of(client, row.conversation_id)
        await twilio.post_url(exit_url, call_params(sid, QueueResult="hangup", QueueTime="17"))
        await twilio.post("status", call_params(sid, CallStatus="completed"))
        assert [e.id for e in await events_of(client, row.conversation_id)] == [e.id for e in before]
        assert api.requests == []  # nobody was rung
