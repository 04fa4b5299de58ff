"""A Twilio call whose status callback never came: the sweeper asks the Calls API before ending it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from hub.api.keys import ADAPTERS
from hub.channels.calls import VoiceChannel
from hub.db.models import utcnow
from hub.inbox.call_sweeper import Probe, SweepSettings, sweep_stale_calls
from tests.channels.twilio.twilio_api import API
from tests.channels.twilio.voice.harness import call_params, call_row, call_sid, voice_hub
from tests.factories import services_of

SETTINGS = SweepSettings(stale_after=3600, stale_waiting_after=600)


async def test_the_calls_api_says_which_silent_call_is_still_on_and_when_the_other_ended(
    database_url: str, tmp_path: Path,
) -> None:
    async with voice_hub(database_url, tmp_path / "data") as (client, api, twilio):
        on, over, unknown = call_sid(), call_sid(), call_sid()
        ended_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
        api.add_call(on, status="in-progress")
        api.add_call(over, status="completed", end_time=format_datetime(ended_at))
        for sid in (on, over, unknown):
            menu = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
            assert menu is not None
        adapter = client.app[ADAPTERS]["hotline"]
        assert isinstance(adapter, VoiceChannel)
        probes: dict[str, Probe] = {"hotline": adapter.call_status}

        swept = await sweep_stale_calls(services_of(client), SETTINGS, probes, now=utcnow() + timedelta(hours=1))
        rows = {sid: await call_row(client, sid) for sid in (on, over, unknown)}
        assert {sid: (r.state, r.end_reason) for sid, r in rows.items() if r is not None} == {
            on: ("ivr", None), over: ("ended", "stale"), unknown: ("ended", "stale"),
        }
        assert (swept.alive, sorted(swept.ended)) == ([rows[on].id], sorted([rows[over].id, rows[unknown].id]))
        assert rows[over].ended_at == ended_at
        assert len(api.calls(f"{API}/Calls/{on}.json")) == 1
        assert api.calls(f"{API}/Calls/{unknown}.json")[0].method == "GET"
