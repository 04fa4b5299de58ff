"""Export (Art. 15/20): every message, call and consent of the contact, and nothing of anyone else."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.config import Settings
from hub.crm_link.timeline import append_timeline
from hub.db.models import AuditEntry, ConsentRecord, Message, TimelineEntry
from tests.crm_link.record import Record, other_record, rich_record, sending_settings
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return sending_settings(database_url, tmp_path / "data")


async def log_call(client: Client, record: Record, seconds: int) -> int:
    async with services_of(client).sessions() as session, session.begin():
        entry = await append_timeline(
            session, record.contact_id, "call", conversation_id=record.conversation_ids[0],
            data={"direction": "in", "duration_seconds": seconds, "wait_seconds": 12},
        )
        return entry.id


async def test_the_export_holds_all_of_the_contact_and_nothing_of_others(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    walburga = await rich_record(client, admin)
    otto = await other_record(client)
    call = await log_call(client, walburga, 312)
    await log_call(client, otto, 99)

    async with services_of(client).sessions() as session:
        messages = (
            await session.scalars(select(Message).where(Message.conversation_id.in_(walburga.conversation_ids)))
        ).all()
        consents = (
            await session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == walburga.contact_id))
        ).all()
        timeline = (
            await session.scalars(select(TimelineEntry.id).where(TimelineEntry.contact_id == walburga.contact_id))
        ).all()
    resp = await client.get(f"/api/v1/contacts/{walburga.contact_id}/export", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/zip"
    assert f"contact-{walburga.contact_id}-" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    archive = zipfile.ZipFile(io.BytesIO(raw))
    document = json.loads(archive.read("contact.json"))
    records = document["records"]

    assert {m["id"]: m["text"] for m in records["messages"]} == {m.id: m.text for m in messages}
    assert len(messages) == 4
    assert [c["id"] for c in records["consents"]] == [c.id for c in consents]
    assert records["consents"][0]["evidence"] == {"ip": "198.51.100.23", "form": "golf-form-page"}
    exported_timeline = {e["id"]: e for e in records["timeline_entries"]}
    assert set(exported_timeline) == set(timeline)
    assert exported_timeline[call]["data"]["duration_seconds"] == 312
    assert records["contacts"][0]["name"] == "Walburga Zwiebelkoetter"
    assert sorted(i["address"] for i in records["contact_identities"]) == ["+491719876543", "walburga.z@example.org"]
    assert {c["id"] for c in records["conversations"]} == set(walburga.conversation_ids)
    (attachment,) = records["attachments"]
    assert attachment["filename"] == "ausweis-delta.pdf"
    assert archive.read(f"files/{attachment['blob_sha256']}") == b"PDF-ECHO-CONTENT-4711"
    assert document["channels"] and all(c["type"] == "api" for c in document["channels"].values())

    # Nothing of Otto anywhere in the archive, compressed or not.
    everything = b"".join(archive.read(name) for name in archive.namelist()).lower()
    assert [s for s in otto.secrets if s.lower().encode() in everything] == []
    assert all(e["contact_id"] == walburga.contact_id for e in records["timeline_entries"])
    assert set(walburga.secrets) - {"Walli Alt"} <= {s for s in walburga.secrets if s.lower().encode() in everything}

    async with services_of(client).sessions() as session:
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "contact.exported"))
        logged = await session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "exported"))
    assert audit is not None and audit.actor_user_id == admin.id and audit.data["tables"]["messages"] == 4
    assert logged is not None and logged.data == {"audit_id": audit.id}


async def test_only_admins_export(client: Client) -> None:
    services = services_of(client)
    otto = await other_record(client)
    for role in ("agent", "supervisor"):
        user = await create_user(services, role=role, queues=["support"])
        assert (await client.get(f"/api/v1/contacts/{otto.contact_id}/export", headers=user.headers)).status == 403
    admin = await create_user(services, role="admin")
    assert (await client.get("/api/v1/contacts/424242/export", headers=admin.headers)).status == 404
