"""Data-subject export (DSGVO Art. 15 and 20): everything held on a contact, as a ZIP.

``contact.json`` holds every row of every table of the customer record (the registry
in ``hub.db.personal_data`` decides which; nothing here names a table), keyed by
table, plus the channels they mention; ``files/<sha256>`` holds each attachment's
content once. The export is an audit entry and a timeline entry.
"""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.crm_link.merge import merge_group
from hub.crm_link.record_map import TablePlan, default_plans
from hub.crm_link.restriction import ensure_privacy_officer
from hub.crm_link.timeline import append_timeline
from hub.db.models import Channel, Contact, utcnow
from hub.db.personal_data import BLOB_REFERENCES
from hub.errors import NotFound
from hub.services import Services

FORMAT = "hub.contact-export/1"
CONTACT_EXPORTED = "contact.exported"  # audit action
SPOOL_BYTES = 16 << 20

README = """This archive holds all personal data hub stores about one person (GDPR Art. 15/20).

contact.json   every stored record, by table ("records"), in JSON; "about" says what each table is.
               Times are ISO 8601 in UTC. Ids connect the tables (e.g. messages.conversation_id).
files/         the content of attachments, named by their SHA-256; "files" in contact.json maps
               each one to the rows (e.g. attachments) that refer to it.
"""


@dataclass(frozen=True)
class Export:
    """A finished export: the archive (a temporary file, removed when closed) and its name."""

    file: IO[bytes]
    size: int
    filename: str


async def collect_record(
    session: AsyncSession, contact_ids: Sequence[int], plans: Sequence[TablePlan]
) -> dict[str, list[dict[str, Any]]]:
    """Every exported table's rows of ``contact_ids``, as JSON-ready dicts."""
    records: dict[str, list[dict[str, Any]]] = {}
    for plan in sorted(plans, key=lambda p: (p.depth, p.name)):
        if not plan.export:
            continue
        result = await session.execute(plan.rows(contact_ids))
        keys = list(result.keys())  # once: a row's own mapping costs more than its values
        records[plan.name] = [dict(zip(keys, row, strict=True)) for row in result]
    return records


def _blob_rows(records: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """sha256 -> the rows (table, id) that reference it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for key in BLOB_REFERENCES:
        table, _, column = key.partition(".")
        for row in records.get(table, []):
            digest = row.get(column)
            if digest:
                found.setdefault(digest, []).append({"table": table, "id": row.get("id")})
    return found


async def export_contact(
    services: Services,
    principal: Principal,
    contact_id: int,
    *,
    plans: Sequence[TablePlan] | None = None,
    now: datetime | None = None,
) -> Export:
    """Build the contact's archive (admins only; 404 for no contact) and log that it was made."""
    ensure_privacy_officer(principal)
    plans = default_plans() if plans is None else plans
    now = now or utcnow()
    async with services.sessions() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("no such contact")
        contact_ids = await merge_group(session, contact_id)
        records = await collect_record(session, contact_ids, plans)
        channel_ids = {
            row["channel_id"] for rows in records.values() for row in rows if row.get("channel_id") is not None
        }
        channels = {
            str(cid): {"name": name, "type": type_}
            for cid, name, type_ in await session.execute(
                select(Channel.id, Channel.name, Channel.type).where(Channel.id.in_(sorted(channel_ids)))
            )
        }
    files = _blob_rows(records)
    document = {
        "format": FORMAT,
        "exported_at": now,
        "contact_id": contact_id,
        "contact_ids": contact_ids,
        "about": {plan.name: plan.what for plan in plans if plan.export},
        "channels": channels,
        "records": records,
        "files": [{"path": f"files/{digest}", "sha256": digest, "referenced_by": refs} for digest, refs in files.items()],
    }
    body = msgspec.json.format(msgspec.json.encode(document), indent=1)
    archive = await _zip(services, body, list(files))
    async with services.transaction() as unit:
        audit = await record_audit(
            unit.session, actor_id=principal.user_id, action=CONTACT_EXPORTED, object_type="contact",
            object_id=contact_id, data={"tables": {t: len(r) for t, r in records.items()}, "files": len(files)},
        )
        await append_timeline(
            unit.session, contact_id, "exported", actor_user_id=principal.user_id, occurred_at=now,
            data={"audit_id": audit.id},
        )
    size = archive.seek(0, 2)
    archive.seek(0)
    return Export(file=archive, size=size, filename=f"contact-{contact_id}-{now:%Y%m%d-%H%M%S}.zip")


async def _zip(services: Services, document: bytes, digests: list[str]) -> IO[bytes]:
    contents: dict[str, bytes | None] = {}
    for digest in digests:
        try:
            contents[digest] = await services.blobs.get(digest)
        except FileNotFoundError:
            contents[digest] = None  # listed in contact.json; the file itself is gone

    def write() -> IO[bytes]:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.txt", README)
            archive.writestr("contact.json", document)
            for digest, content in contents.items():
                if content is not None:
                    archive.writestr(f"files/{digest}", content)
        return spool

    return await asyncio.to_thread(write)
