"""Recordings of calls, and a caller's data-subject rights: export and erasure cover calls and audio."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub.auth.principal import Principal, Role
from hub.calls import CallState
from hub.crm_link.erasure import erase_contact
from hub.crm_link.export import export_contact
from hub.crm_link.retention import ConversationPolicy, RetentionSettings, run_retention
from hub.db.models import Blob, Call, CallRecording, Conversation, TimelineEntry, utcnow
from hub.errors import NotFound
from hub.inbox.call_recordings import attach_recording
from tests.factories import create_user
from tests.inbox.call_env import CALLER, Env, call_env


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with call_env(database_url, tmp_path) as built:
        yield built


AUDIO = b"RIFF....WAVEfmt " + bytes(range(256)) * 4


async def admin(env: Env) -> Principal:
    user = await create_user(env.services, role="admin")
    return Principal(user_id=user.id, email=user.email, name="Admin", role=Role.ADMIN,
                     queue_ids=frozenset(), via="token")


async def test_a_recording_is_kept_once_and_an_unknown_call_is_404(env: Env) -> None:
    call = await env.report(CallState.TALKING, 0, agent=env.anna.id)
    first = await attach_recording(env.services, "pbx", "c-1", AUDIO, "audio/wav", duration_seconds=42)
    again = await attach_recording(env.services, "pbx", "c-1", AUDIO, "audio/wav", duration_seconds=42)
    assert first == again and first.call_id == call.call.id and first.size == len(AUDIO)
    assert await env.services.blobs.get(first.blob_sha256) == AUDIO
    assert await env.count(CallRecording) == 1
    with pytest.raises(NotFound):
        await attach_recording(env.services, "pbx", "c-unknown", AUDIO, "audio/wav")


async def test_export_holds_the_calls_and_erasure_removes_numbers_and_audio(env: Env) -> None:
    await env.report(CallState.QUEUED, 0)
    await env.report(CallState.TALKING, 10, agent=env.anna.id)
    done = await env.report(CallState.ENDED, 70)
    recording = await attach_recording(env.services, "pbx", "c-1", AUDIO, "audio/wav")
    contact_id = done.call.contact_id
    assert contact_id is not None

    officer = await admin(env)
    export = await export_contact(env.services, officer, contact_id)
    with export.file, zipfile.ZipFile(export.file) as archive:
        document = json.loads(archive.read("contact.json"))
        assert archive.read(f"files/{recording.blob_sha256}") == AUDIO
    (exported,) = document["records"]["calls"]
    assert (exported["from_number"], exported["outcome"], exported["talk_seconds"]) == (CALLER, "answered", 60)
    assert document["records"]["call_recordings"][0]["blob_sha256"] == recording.blob_sha256

    report = await erase_contact(env.services, officer, contact_id)
    assert report.tables["calls"]["columns"] == ["from_number", "to_number"]
    assert report.tables["call_recordings"]["rows"] == 1
    call = await env.call(done.call.id)
    assert (call.from_number, call.to_number) == (None, None)
    assert (call.outcome, call.wait_seconds, call.talk_seconds) == ("answered", 10, 60)  # statistics stay
    assert await env.count(CallRecording) == 0
    assert await env.count(Blob, Blob.sha256 == recording.blob_sha256) == 0
    with pytest.raises(FileNotFoundError):
        await env.services.blobs.get(recording.blob_sha256)
    async with env.services.sessions() as session:
        kinds = list((await session.scalars(
            select(TimelineEntry.kind).where(TimelineEntry.contact_id == contact_id).order_by(TimelineEntry.id)
        )).all())
        stored = (await session.scalars(select(Call.from_number))).all()
    assert "call" in kinds and kinds[-1] == "erased"
    assert CALLER not in stored


async def test_retention_deletes_an_old_call_with_its_recording_and_audio(env: Env) -> None:
    await env.report(CallState.TALKING, 0, agent=env.anna.id)
    done = await env.report(CallState.ENDED, 30)
    recording = await attach_recording(env.services, "pbx", "c-1", AUDIO, "audio/wav")
    async with env.services.sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == done.call.conversation_id)
                              .values(resolved_at=utcnow() - timedelta(days=40)))
    policy = RetentionSettings(conversations=(ConversationPolicy("calls-30", 30, channels=("pbx",)),))
    report = await run_retention(env.services, policy, dry_run=False)
    assert report.conversations == {"calls-30": [done.call.conversation_id]} and report.blobs == 1
    assert await env.count(Call) == 0 and await env.count(CallRecording) == 0
    with pytest.raises(FileNotFoundError):
        await env.services.blobs.get(recording.blob_sha256)
    (entry,) = await env.calls_timeline()  # the contact's record keeps that there was a call
    assert entry.conversation_id is None and entry.data["duration_seconds"] == 30
