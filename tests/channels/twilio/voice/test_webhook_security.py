"""Every voice webhook is checked with Twilio's signature before anything is read or written."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.db.models import Call, Contact
from tests.channels.twilio.twilio_api import sign
from tests.channels.twilio.voice.harness import (
    Client,
    call_params,
    call_row,
    call_sid,
    events_of,
    voice_hub,
)
from tests.factories import services_of


async def _nothing_written(client: Client) -> None:
    async with services_of(client).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call)) == 0
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0


@pytest.mark.parametrize("step", ["incoming", "menu", "queue-exit", "dial-done", "status", "transcription"])
async def test_a_wrong_or_missing_signature_gets_403_and_stores_nothing(
    database_url: str, tmp_path: Path, step: str,
) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, _api, twilio):
        params = call_params(call_sid(), Digits="1", QueueResult="hangup", CallStatus="completed")
        forged = sign(twilio.url(step), params, auth_token="not-the-auth-token")
        await twilio.post(step, params, query="offer=1", signature=forged, expect=403)
        await twilio.post(step, params, query="offer=1", signature="", expect=403)
        # Signed for another URL (e.g. the address behind the proxy): refused as well.
        other = sign(f"http://127.0.0.1:8080/webhooks/twilio/voice/hotline/{step}", params)
        await twilio.post(step, params, signature=other, expect=403)
        await _nothing_written(client)


async def test_malformed_requests_are_refused_after_the_signature(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, _api, twilio):
        await twilio.post("incoming", {"CallSid": "not-a-sid", "From": "+4915112345678"}, expect=400)
        await twilio.post("no-such-step", call_params(call_sid()), expect=404)
        await twilio.post("whisper", call_params(call_sid()), query="offer=abc", expect=400)
        other = twilio.url("incoming").replace("/hotline/", "/elsewhere/")
        await twilio.post_url(other, call_params(call_sid()), expect=404)
        await _nothing_written(client)


async def test_a_retried_incoming_call_opens_one_call(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, _api, twilio):
        sid = call_sid()
        first = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        again = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert first is not None and again is not None
        assert [c.tag for c in first] == [c.tag for c in again] == ["Gather"]
        async with services_of(client).sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Call)) == 1
            assert await session.scalar(select(func.count()).select_from(Contact)) == 1
        choice = call_params(sid, Digits="1")
        queued = await twilio.post_url(first[0].get("action", ""), choice)
        row = await call_row(client, sid)
        assert row is not None and row.state == "queued" and row.conversation_id is not None
        events = await events_of(client, row.conversation_id)
        repeated = await twilio.post_url(first[0].get("action", ""), choice)
        await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert queued is not None and repeated is not None
        assert ET.tostring(repeated) == ET.tostring(queued)
        assert [e.id for e in await events_of(client, row.conversation_id)] == [e.id for e in events]
        again = await call_row(client, sid)
        assert again is not None and (again.state, again.state_at) == (row.state, row.state_at)
