"""Erasure (Art. 17): afterwards not a byte of the person is left in the database or the blob store."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hub.config import Settings
from hub.db.models import (
    AuditEntry,
    Contact,
    ContactIdentity,
    Conversation,
    IdempotencyKey,
    Message,
    OutboxItem,
    TimelineEntry,
)
from tests.crm_link.record import Record, other_record, rich_record, sending_settings
from tests.factories import create_user, services_of
from tests.services import service_missing

Client = TestClient[Any, Any]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return sending_settings(database_url, tmp_path / "data")


async def stored_bytes(client: Client) -> bytes:
    """Everything hub keeps on disk: the SQLite files (database, WAL, shared memory) or a
    pg_dump of the PostgreSQL database, plus every blob."""
    services = services_of(client)
    url = make_url(services.settings.database_url)
    chunks: list[bytes] = []
    if url.get_backend_name() == "sqlite":
        assert url.database
        for suffix in ("", "-wal", "-shm"):
            path = Path(url.database + suffix)
            if path.exists():
                chunks.append(path.read_bytes())
    else:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            service_missing("pg_dump", "not installed")
        assert pg_dump is not None
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        process = await asyncio.create_subprocess_exec(
            pg_dump, "--data-only", "--no-owner", dsn, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        chunks.append(out)
    for path in (services.settings.data_dir / "blobs").rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes())
    return b"\n".join(chunks).lower()


def found(haystack: bytes, record: Record) -> list[str]:
    return [s for s in record.secrets if s.lower().encode() in haystack]


async def counts(client: Client, record: Record) -> dict[str, int]:
    async with services_of(client).sessions() as session:
        async def n(model: Any, *where: Any) -> int:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return {
            "conversations": await n(Conversation, Conversation.contact_id == record.contact_id),
            "messages": await n(Message, Message.id.in_(record.message_ids)),
            "timeline": await n(TimelineEntry, TimelineEntry.contact_id == record.contact_id),
        }


async def test_after_erasure_no_byte_of_the_person_is_stored_and_statistics_survive(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    walburga = await rich_record(client, admin)
    otto = await other_record(client)
    # The search finds what is stored (a pg_dump has no old row versions, so no old name).
    assert set(found(await stored_bytes(client), walburga)) >= set(walburga.secrets) - {"Walli Alt"}
    kept = await counts(client, walburga)

    path = f"/api/v1/contacts/{walburga.contact_id}/erasure"
    preview = await (await client.get(path, headers=admin.headers)).json()
    resp = await client.post(path, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    report = await resp.json()

    after = await stored_bytes(client)
    assert found(after, walburga) == []
    # Nor the number as the customer wrote it, or its national digits in any other spelling.
    assert [s for s in (b"+49 171 9876543", b"171 9876543", b"1719876543") if s in after] == []
    assert found(after, otto) == otto.secrets
    assert {t: e["rows"] for t, e in report["tables"].items()} == {t: e["rows"] for t, e in preview["tables"].items()}
    assert report["tables"]["contact_identities"] == {"rows": 2, "action": "delete", "columns": []}
    assert report["tables"]["messages"]["rows"] == 4 and report["blobs"] == 1
    assert report["swept"] == preview["swept"]
    assert report["swept"].pop("idempotency_keys.response") == 2  # the reply's and the note's
    assert set(report["swept"].values()) <= {0}  # nothing else echoed this person
    assert report["cancelled_replies"] == 1 and report["resolved_conversations"] == 2
    if services_of(client).dialect == "sqlite":
        assert report["database_compacted"] is True

    # Anonymous statistics stay: the rows, their times and states; the timeline gains "erased".
    after = await counts(client, walburga)
    assert after == {**kept, "timeline": kept["timeline"] + 1}
    async with services_of(client).sessions() as session:
        contact = await session.get(Contact, walburga.contact_id)
        audit = await session.get(AuditEntry, report["audit_id"])
        outbox = (await session.scalars(select(OutboxItem))).all()
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
        assert await session.scalar(
            select(func.count()).select_from(ContactIdentity).where(ContactIdentity.contact_id == walburga.contact_id)
        ) == 0
    assert contact is not None and contact.erased_at is not None and contact.name is None and contact.attributes == {}
    assert audit is not None and audit.action == "contact.erased" and audit.object_id == str(walburga.contact_id)
    assert audit.data["tables"]["messages"]["rows"] == 4
    assert [o.state for o in outbox] == ["dead"]  # the queued reply is cancelled (errors are scrubbed too)

    # Nothing can be done with the erased record any more.
    assert (await client.post(path, headers=admin.headers)).status == 409
    resp = await client.patch(f"/api/v1/contacts/{walburga.contact_id}", json={"name": "X"}, headers=admin.headers)
    assert resp.status == 409
    resp = await client.post(
        f"/api/v1/conversations/{walburga.conversation_ids[0]}/messages", json={"body": "Hallo"}, headers=admin.headers
    )
    assert resp.status == 409 and (await resp.json())["code"] == "contact_erased"


async def test_only_admins_erase_and_a_restricted_contact_is_not_erased(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    supervisor = await create_user(services, role="supervisor")
    otto = await other_record(client)
    path = f"/api/v1/contacts/{otto.contact_id}/erasure"
    assert (await client.post(path, headers=supervisor.headers)).status == 403
    assert (await client.get(path, headers=supervisor.headers)).status == 403
    assert (await client.post("/api/v1/contacts/99999/erasure", headers=admin.headers)).status == 404
    await client.put(f"/api/v1/contacts/{otto.contact_id}/restriction", json={}, headers=admin.headers)
    resp = await client.post(path, headers=admin.headers)
    assert resp.status == 409
    assert found(await stored_bytes(client), otto) == otto.secrets


async def test_a_blob_another_contact_still_uses_is_kept(client: Client) -> None:
    from tests.factories import send_inbound

    admin = await create_user(services_of(client), role="admin")
    same = [("a.txt", "text/plain", b"SHARED-CONTENT-ROMEO")]
    one = await send_inbound(client, sender={"email": "one@example.test"}, attachments=same)
    await send_inbound(client, sender={"email": "two@example.test"}, attachments=same)
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, one["conversation_id"])
        assert conversation is not None
    resp = await client.post(f"/api/v1/contacts/{conversation.contact_id}/erasure", headers=admin.headers)
    assert (await resp.json())["blobs"] == 0
    assert b"shared-content-romeo" in await stored_bytes(client)
