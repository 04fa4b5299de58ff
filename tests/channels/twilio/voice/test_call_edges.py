"""Calls off the main path: a busy agent, a ring that cannot start, another language, call recording."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.config import QueueConfig
from hub.db.models import CallRecording, RoutingOffer
from tests.channels.twilio.twilio_api import API
from tests.channels.twilio.voice.harness import (
    AUDIO,
    Client,
    Twilio,
    VoiceApi,
    call_params,
    call_row,
    call_sid,
    query_of,
    voice_hub,
)
from tests.factories import TestUser, create_user, services_of
from tests.routing.conftest import eventually, presence


async def _agent(client: Client, phone: str, *, available: bool = True) -> TestUser:
    agent = await create_user(services_of(client), role="agent", queues=["billing", "support"])
    resp = await client.put("/api/v1/agents/me/phone", json={"phone": phone}, headers=agent.headers)
    assert resp.status == 200, await resp.text()
    if available:
        await presence(client, agent.headers, "available")
    return agent


async def _queued(twilio: Twilio, sid: str, *choices: str) -> ET.Element:
    root = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
    for digit in choices:
        assert root is not None
        root = await twilio.post_url(root[-1].get("action", ""), call_params(sid, Digits=digit))
    assert root is not None and root[-1].tag == "Enqueue"
    return root


async def _dial(api: VoiceApi, sid: str, count: int) -> ET.Element:
    updates = await api.wait_for(f"{API}/Calls/{sid}.json", count)
    (dial,) = ET.fromstring(updates[count - 1].form["Twiml"])
    return dial


async def _offer_state(client: Client, offer_id: int) -> str | None:
    async with services_of(client).sessions() as session:
        return await session.scalar(select(RoutingOffer.state).where(RoutingOffer.id == offer_id))


# Offers that would not time out while the test runs: only the busy phone ends the first one.
PATIENT = (QueueConfig("support", {"offer_timeout": 600}), QueueConfig("billing", {"offer_timeout": 600}))


async def test_a_busy_agent_declines_and_the_next_agent_is_rung_at_once(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data", queues=PATIENT) as (client, api, twilio):
        agents = {"+4930111111": await _agent(client, "+4930111111"), "+4930222222": await _agent(client, "+4930222222")}
        sid = call_sid()
        api.add_call(sid)
        await _queued(twilio, sid, "1")
        dial = await _dial(api, sid, 1)
        busy = agents[dial[0].text or ""]
        offer = int(query_of(dial.get("action", ""))["offer"])
        back = await twilio.post_url(dial.get("action", ""), call_params(sid, DialCallStatus="busy"))
        assert back is not None and back[0].tag == "Enqueue"
        assert await _offer_state(client, offer) == "rejected"
        dial = await _dial(api, sid, 2)
        assert agents[dial[0].text or ""] is not busy
        resp = await client.get("/api/v1/agents/me", headers=busy.headers)
        assert (await resp.json())["status"] == "available"  # declining is no miss


async def test_a_ring_that_cannot_start_leaves_the_call_waiting(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, api, twilio):
        agent = await _agent(client, "+4930111111")
        sid = call_sid()  # not a live call at the local Twilio: the update gets 404
        await _queued(twilio, sid, "2")
        await api.wait_for(f"{API}/Calls/{sid}.json", 1)
        row: Any = await eventually(lambda: _in_state(client, sid, "queued"), what="the call waiting again")
        assert row.agent_id is None
        me = await eventually(lambda: _away(client, agent), what="the missed offer setting the agent away")
        assert me["reason"] == "missed_offers"


async def _in_state(client: Client, sid: str, state: str) -> Any:
    row = await call_row(client, sid)
    return row if row is not None and row.state == state and row.agent_id is None else None


async def _away(client: Client, agent: TestUser) -> Any:
    me = await (await client.get("/api/v1/agents/me", headers=agent.headers)).json()
    return me if me["status"] == "away" else None


async def test_a_caller_who_chose_english_hears_english_to_the_end(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, api, twilio):
        sid = call_sid()
        api.add_call(sid)
        menu = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert menu is not None
        english = await twilio.post_url(menu[0].get("action", ""), call_params(sid, SpeechResult="English please"))
        assert english is not None and english[0].get("language") == "en-US"
        enqueue = await twilio.post_url(english[0].get("action", ""), call_params(sid, Digits="1"))
        assert enqueue is not None and query_of(enqueue[0].get("waitUrl", "")) == {"lang": "en-US"}
        await _agent(client, "+4930111111")
        dial = await _dial(api, sid, 1)
        assert query_of(dial.get("action", ""))["lang"] == "en-US"
        whisper = await twilio.post_url(dial[0].get("url", ""), call_params(call_sid(), ParentCallSid=sid))
        assert whisper is not None and whisper[0].text == "Call from the queue billing."
        assert whisper[0].get("language") == "en-US"


async def test_a_recorded_call_keeps_its_recording(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data", record_calls=True) as (client, api, twilio):
        sid = call_sid()
        enqueue = await _queued(twilio, sid, "2")
        assert [c.tag for c in enqueue] == ["Say", "Enqueue"]  # the privacy notice first
        recording, url = api.add_recording()
        params = call_params(sid, RecordingSid=recording, RecordingUrl=url, RecordingStatus="completed",
                             RecordingDuration="42", RecordingChannels="2")
        await twilio.post("recording", params)
        await twilio.post("recording", params)  # retried
        row = await call_row(client, sid)
        assert row is not None
        async with services_of(client).sessions() as session:
            (kept,) = (await session.scalars(select(CallRecording).where(CallRecording.call_id == row.id))).all()
        assert kept.size == len(AUDIO) and kept.duration_seconds == 42 and kept.content_type == "audio/mpeg"
