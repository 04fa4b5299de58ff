"""Closed hours: the announcement, a voicemail, its transcription as an inbox message with the audio."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hub.db.models import (
    Blob,
    Conversation,
    Message,
    MessageAttachment,
    RoutingAgent,
    RoutingEntry,
    RoutingOffer,
)
from tests.channels.twilio.voice.harness import (
    AUDIO,
    Client,
    call_params,
    call_row,
    call_sid,
    recording_sid,
    voice_hub,
)
from tests.factories import create_user, services_of
from tests.routing.conftest import assignee, eventually, presence


async def _messages(client: Client, conversation_id: int) -> list[tuple[Message, list[MessageAttachment]]]:
    async with services_of(client).sessions() as session:
        messages = (await session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )).all()
        found = []
        for message in messages:
            attachments = (await session.scalars(
                select(MessageAttachment).where(MessageAttachment.message_id == message.id)
            )).all()
            found.append((message, list(attachments)))
        return found


async def test_outside_business_hours_a_voicemail_becomes_a_message_with_transcription_and_audio(
    database_url: str, tmp_path: Path,
) -> None:
    async with voice_hub(database_url, tmp_path / "data", calendar="holiday") as (client, api, twilio):
        sid = call_sid()
        closed = await twilio.post("incoming", call_params(sid, CallStatus="ringing"))
        assert closed is not None and [c.tag for c in closed] == ["Say", "Say", "Record", "Hangup"]
        assert closed[0].text == "Wir sind gerade nicht erreichbar."
        record = closed[2]
        recording, url = api.add_recording()
        thanks = await twilio.post_url(record.get("action", ""), call_params(
            sid, RecordingSid=recording, RecordingUrl=url, RecordingDuration="12", Digits="hangup"))
        assert thanks is not None and [c.tag for c in thanks] == ["Say", "Hangup"]
        row = await call_row(client, sid)
        assert row is not None and row.state == "ended" and row.outcome == "voicemail"
        assert row.conversation_id is not None

        transcription = call_params(
            sid, RecordingSid=recording, RecordingUrl=url, TranscriptionSid="TR" + "1" * 32,
            TranscriptionStatus="completed", TranscriptionText="Hallo, bitte rufen Sie mich zurück.",
            TranscriptionUrl=f"{api.url}/Transcriptions/TR{'1' * 32}",
        )
        await twilio.post_url(record.get("transcribeCallback", ""), transcription)
        await twilio.post_url(record.get("transcribeCallback", ""), transcription)  # Twilio retries

        ((message, attachments),) = await _messages(client, row.conversation_id)
        assert message.direction == "in"
        assert message.text == "Voicemail:\nHallo, bitte rufen Sie mich zurück."
        assert message.provider_message_id == recording
        (attachment,) = attachments
        assert attachment.content_type == "audio/mpeg" and attachment.size == len(AUDIO)
        async with services_of(client).sessions() as session:
            assert await session.get(Blob, attachment.blob_sha256) is not None
            conversation = await session.get(Conversation, row.conversation_id)
            assert conversation is not None and conversation.queue_id == services_of(client).queues["support"]
            assert conversation.status == "open"  # for an agent to call back
        assert await services_of(client).blobs.get(attachment.blob_sha256) == AUDIO
        downloads = [r for r in api.requests if r.path.endswith(f"/Recordings/{recording}.mp3")]
        assert len(downloads) == 2  # one per transcription request; the retry stored nothing twice


async def test_a_recording_url_off_twilios_hosts_is_not_fetched(database_url: str, tmp_path: Path) -> None:
    async with voice_hub(database_url, tmp_path / "data", calendar="holiday") as (client, api, twilio):
        sid = call_sid()
        closed = await twilio.post("incoming", call_params(sid))
        assert closed is not None
        record = closed[2]
        recording = recording_sid()
        evil = f"http://127.0.0.1:1/2010-04-01/Accounts/x/Recordings/{recording}"
        await twilio.post_url(record.get("transcribeCallback", ""), call_params(
            sid, RecordingSid=recording, RecordingUrl=evil, TranscriptionStatus="failed"))
        row = await call_row(client, sid)
        assert row is not None and row.conversation_id is not None
        ((message, attachments),) = await _messages(client, row.conversation_id)
        assert attachments == []
        assert "Voicemail, no transcription." in message.text and "not one of the provider's media hosts" in message.text


async def test_a_voicemail_is_routed_as_a_message_to_call_back_not_rung_as_a_live_call(
    database_url: str, tmp_path: Path,
) -> None:
    async with voice_hub(database_url, tmp_path / "data", calendar="holiday") as (client, api, twilio):
        services = services_of(client)
        agent = await create_user(services, role="agent", queues=["support"])
        resp = await client.put("/api/v1/agents/me/phone", json={"phone": "+4930111111"}, headers=agent.headers)
        assert resp.status == 200, await resp.text()
        await presence(client, agent.headers, "available")
        sid = call_sid()
        closed = await twilio.post("incoming", call_params(sid))
        assert closed is not None
        record = closed[2]
        recording, url = api.add_recording()
        await twilio.post_url(record.get("action", ""), call_params(
            sid, RecordingSid=recording, RecordingUrl=url, RecordingDuration="7", Digits="hangup"))
        await twilio.post_url(record.get("transcribeCallback", ""), call_params(
            sid, RecordingSid=recording, RecordingUrl=url, TranscriptionStatus="completed",
            TranscriptionText="Bitte um Rückruf."))
        row = await call_row(client, sid)
        assert row is not None and row.conversation_id is not None
        conversation_id = row.conversation_id

        # Assigned straight away as asynchronous work: no offer, no ring, the agent stays available.
        assert await eventually(lambda: assignee(client, conversation_id), what="assignment") == agent.id
        async with services.sessions() as session:
            entry = await session.get(RoutingEntry, conversation_id)
            assert entry is not None and (entry.media, entry.realtime) == ("messaging", False)
            offers = (await session.scalars(
                select(RoutingOffer).where(RoutingOffer.conversation_id == conversation_id))).all()
            assert offers == []
            state = await session.get(RoutingAgent, agent.id)
            assert state is not None and state.presence == "available"
        assert api.call_updates(sid) == []
