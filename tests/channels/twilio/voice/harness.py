"""A running hub with a Twilio voice channel, a local Twilio API, and Twilio's side of a call.

``Twilio.post(step, ...)`` sends a webhook exactly as Twilio does: form-encoded,
signed over the hub's public URL with the account's auth token. Recordings are
served by the local Twilio API with account auth, like ``api.twilio.com``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hub.api.app import create_app
from hub.config import ChannelConfig, QueueConfig
from hub.db.models import Call, EventRecord
from tests.channels.provider_stub import Recorded, running
from tests.channels.twilio.twilio_api import (
    ACCOUNT_SID,
    API,
    AUTH_TOKEN,
    TwilioApi,
    error_body,
    signed,
)
from tests.channels.twilio.voice.config import voice_channel, voice_settings
from tests.factories import services_of

Client = TestClient[Any, Any]
PUBLIC_URL = "https://hub.example.test"
CALLER = "+4915112345678"
NUMBER = "+493012345670"
AUDIO = b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 8  # an MP3's first bytes, then anything
_serial = itertools.count(1)


def call_sid() -> str:
    return "CA" + hashlib.sha256(f"call{next(_serial)}".encode()).hexdigest()[:32]


def recording_sid() -> str:
    return "RE" + hashlib.sha256(f"rec{next(_serial)}".encode()).hexdigest()[:32]


class VoiceApi(TwilioApi):
    """The local Twilio API plus the Recordings media Twilio serves (``.mp3`` with account auth)."""

    def __init__(self) -> None:
        super().__init__()
        self.recordings: dict[str, bytes] = {}
        self.route("GET", "/2010-04-01/Accounts/{AccountSid}/Recordings/{File}", self._recording)

    def add_recording(self, content: bytes = AUDIO) -> tuple[str, str]:
        """A recording of the account: its sid and ``RecordingUrl`` (without extension, as Twilio sends it)."""
        sid = recording_sid()
        self.recordings[sid] = content
        return sid, f"{self.url}{API}/Recordings/{sid}"

    async def _recording(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return web.json_response(error_body(401, 20003, "Authenticate"), status=401)
        sid, _, extension = recorded.params["File"].partition(".")
        if sid not in self.recordings or extension != "mp3":
            return web.json_response(error_body(404, 20404, "The requested resource was not found"), status=404)
        return web.Response(body=self.recordings[sid], headers={"Content-Type": "audio/mpeg"})

    def call_updates(self, call: str) -> list[Recorded]:
        return self.calls(f"{API}/Calls/{call}.json")


class Twilio:
    """Twilio's side of the calls: signed webhooks to the hub."""

    def __init__(self, client: Client, channel: str = "hotline") -> None:
        self.client = client
        self.channel = channel

    def url(self, step: str, query: str = "") -> str:
        return f"{PUBLIC_URL}/webhooks/twilio/voice/{self.channel}/{step}" + (f"?{query}" if query else "")

    async def post_url(self, url: str, params: Mapping[str, str], *, signature: str | None = None,
                       expect: int = 200) -> ET.Element | None:
        """POST to an absolute URL the hub gave Twilio; the TwiML answer parsed (None for an empty body)."""
        body, headers = signed(url, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        if signature == "":
            del headers["X-Twilio-Signature"]
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = await self.client.post(path, data=body, headers=headers)
        text = await response.text()
        assert response.status == expect, text
        if expect != 200:
            return None
        assert response.content_type == "text/xml", response.content_type
        root = ET.fromstring(text)
        assert root.tag == "Response"
        return root

    async def post(self, step: str, params: Mapping[str, str], query: str = "", **kwargs: Any) -> ET.Element | None:
        return await self.post_url(self.url(step, query), params, **kwargs)


def call_params(sid: str, **more: str) -> dict[str, str]:
    """The parameters Twilio sends with every request about a call."""
    return {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": "in-progress",
        "Direction": "inbound", "From": CALLER, "To": NUMBER, "Caller": CALLER, "Called": NUMBER, **more,
    }


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@asynccontextmanager
async def voice_hub(
    database_url: str, data_dir: Path, *, queues: tuple[QueueConfig, ...] | None = None, **channel_options: Any
) -> AsyncIterator[tuple[Client, VoiceApi, Twilio]]:
    """The hub with channel ``hotline`` pointed at a local Twilio API; routing on (offers time out after 1 s)."""
    async with running(VoiceApi()) as api:
        assert isinstance(api, VoiceApi)
        channel: ChannelConfig = voice_channel(api.url, **channel_options)
        settings = voice_settings(database_url, data_dir, channel, **({"queues": queues} if queues else {}))
        async with TestClient(TestServer(create_app(settings))) as client:
            yield client, api, Twilio(client)


async def call_row(client: Client, sid: str) -> Call | None:
    async with services_of(client).sessions() as session:
        return await session.scalar(select(Call).where(Call.provider_call_id == sid))


async def events_of(client: Client, conversation_id: int, type_: str | None = None) -> list[EventRecord]:
    """The conversation's events (routing's periodic statistics are no conversation's)."""
    async with services_of(client).sessions() as session:
        stmt = select(EventRecord).where(EventRecord.conversation_id == conversation_id).order_by(EventRecord.id)
        if type_ is not None:
            stmt = stmt.where(EventRecord.type == type_)
        return list((await session.scalars(stmt)).all())
