"""Recordings of calls: the audio goes to the blob store, a row links it to its call.

Erasure deletes the rows and the audio with the contact's data (``call_recordings``
is a ``delete`` table of the record, its blobs are ``BLOB_REFERENCES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub.db.models import Blob, Call, CallRecording, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import NotFound
from hub.services import Services


@dataclass(frozen=True)
class RecordingView:
    id: int
    call_id: int
    blob_sha256: str
    content_type: str
    size: int
    duration_seconds: int | None


async def attach_recording(
    services: Services, channel: str, provider_call_id: str, content: bytes, content_type: str,
    *, duration_seconds: int | None = None,
) -> RecordingView:
    """Keep a recording of the call; the same audio twice is kept once. 404 for an unknown call."""
    endpoint = services.endpoint(channel)
    digest = await services.blobs.put(content)
    now = utcnow()
    async with services.transaction() as unit:
        session = unit.session
        call_id = await session.scalar(
            select(Call.id).where(Call.channel_id == endpoint.channel_id, Call.provider_call_id == provider_call_id)
        )
        if call_id is None:
            raise NotFound(f"channel {channel!r} has no call {provider_call_id!r}")
        existing = await session.scalar(
            select(CallRecording).where(CallRecording.call_id == call_id, CallRecording.blob_sha256 == digest)
        )
        if existing is None:
            await insert_ignore(session, Blob, [{"sha256": digest, "size": len(content), "created_at": now}])
            existing = CallRecording(call_id=call_id, blob_sha256=digest, content_type=content_type[:100],
                                     size=len(content), duration_seconds=duration_seconds, created_at=now)
            session.add(existing)
            await session.flush()
        return RecordingView(existing.id, call_id, digest, existing.content_type, existing.size,
                             existing.duration_seconds)
