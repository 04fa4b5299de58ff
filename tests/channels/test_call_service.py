"""One call service: the CTI API and the voice provider's webhooks report through the same one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.api.keys import ADAPTERS
from hub.calls import CallEvent, CallResult
from hub.channels.calls import VoiceChannel
from hub.channels.cti import CtiChannel
from hub.inbox.call_desk import CallService
from tests.channels.provider_stub import running
from tests.channels.test_cti import AUTH, cti_channel
from tests.channels.twilio.voice.config import voice_channel, voice_settings
from tests.channels.twilio.voice.harness import Twilio, VoiceApi, call_params, call_sid


async def test_pbx_and_voice_provider_report_through_one_call_service(
    database_url: str, tmp_path: Path, monkeypatch: Any,
) -> None:
    async with running(VoiceApi()) as api:
        settings = voice_settings(database_url, tmp_path / "data", voice_channel(api.url), cti_channel())
        async with TestClient(TestServer(create_app(settings))) as client:
            adapters = client.app[ADAPTERS]
            voice, pbx = adapters["hotline"], adapters["pbx"]
            assert isinstance(voice, VoiceChannel) and isinstance(pbx, CtiChannel)
            service = voice.call_desk()
            assert isinstance(service, CallService) and pbx.call_service() is service

            reported: list[tuple[str, str]] = []
            original = service.report

            async def spy(event: CallEvent, **kwargs: Any) -> CallResult:
                reported.append((event.channel, event.state.value))
                return await original(event, **kwargs)

            monkeypatch.setattr(service, "report", spy)
            resp = await client.post("/api/v1/calls/events", headers=AUTH,
                                     json={"event": "newCall", "call_id": "pbx-1", "from": "+4930123456"})
            assert resp.status == 200, await resp.text()
            await Twilio(client).post("incoming", call_params(call_sid(), CallStatus="ringing"))
            assert reported == [("pbx", "ringing"), ("hotline", "ivr")]
