"""Admin actions on quarantined items (import again, discard) and their retention.

Only supervisors and admins may act; each action is audited. Discarding deletes the
raw content from the blob store at once (it is a customer's mail), unless another
row still refers to the same bytes. Whatever nobody handled is deleted after
``[quarantine] keep_days`` (30 by default): raw mail is not kept forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.channels.base import ChannelAdapter, PermanentChannelError
from hub.db.models import Blob, MessageAttachment, QuarantinedItem, utcnow
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.inbox.periodic import Periodic
from hub.inbox.service import Inbox
from hub.inbox.statuses import apply_status_event
from hub.messages import InboundMessage
from hub.services import Services

log = logging.getLogger(__name__)

QUARANTINE_RETRIED = "quarantine.retried"
QUARANTINE_DISCARDED = "quarantine.discarded"


@dataclass(frozen=True)
class RetryResult:
    item_id: int
    message_id: int | None
    duplicate: bool
    reports: int


def _ensure_staff(principal: Principal) -> None:
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins handle the quarantine")


async def _open_item(services: Services, channel_id: int, item_id: int) -> QuarantinedItem:
    async with services.sessions() as session:
        item = await session.get(QuarantinedItem, item_id)
    if item is None or item.channel_id != channel_id:
        raise NotFound("no such quarantined item")
    if item.state != "open":
        raise Conflict(f"the item is already {item.state}")
    return item


async def retry(
    services: Services,
    inbox: Inbox,
    adapter: ChannelAdapter,
    principal: Principal,
    item_id: int,
) -> RetryResult:
    """Parse the item again with the current code and config; import it if that works now."""
    _ensure_staff(principal)
    endpoint = services.endpoint(adapter.name)
    item = await _open_item(services, endpoint.channel_id, item_id)
    if item.blob_sha256 is None:
        raise Conflict("only the headers of this item were kept (it was too large); it cannot be imported")
    raw = await services.blobs.get(item.blob_sha256)
    try:
        parsed = await adapter.reparse(raw)
    except PermanentChannelError:
        raise
    except Exception as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        raise ValidationFailed(f"the item still cannot be imported ({reason})") from None
    message_id: int | None = None
    duplicate = False
    reports = 0
    for piece in parsed:
        if isinstance(piece, InboundMessage):
            result = await inbox.ingest(piece)
            message_id, duplicate = result.message_id, result.duplicate
        else:
            reports += int(await apply_status_event(services, piece))
    async with services.transaction() as unit:
        row = await unit.session.get(QuarantinedItem, item.id)
        assert row is not None
        row.state = "imported"
        row.message_id = message_id
        row.updated_at = utcnow()
        await record_audit(
            unit.session, actor_id=principal.user_id, action=QUARANTINE_RETRIED, object_type="quarantine",
            object_id=item.id, data={"channel": adapter.name, "message_id": message_id},
        )
    return RetryResult(item.id, message_id, duplicate, reports)


async def discard(services: Services, channel: str, principal: Principal, item_id: int) -> None:
    """Mark the item discarded and delete its raw content."""
    _ensure_staff(principal)
    endpoint = services.endpoint(channel)
    item = await _open_item(services, endpoint.channel_id, item_id)
    digest = item.blob_sha256
    async with services.transaction() as unit:
        session = unit.session
        row = await session.get(QuarantinedItem, item.id)
        assert row is not None
        row.state = "discarded"
        row.blob_sha256 = None
        row.subject = None
        row.sender = None
        row.detail = row.reason
        row.updated_at = utcnow()
        still_used = False
        if digest is not None:
            still_used = bool(
                await session.scalar(
                    select(
                        exists().where(MessageAttachment.blob_sha256 == digest)
                        | exists().where(QuarantinedItem.blob_sha256 == digest, QuarantinedItem.id != item.id)
                    )
                )
            )
            if not still_used:
                blob = await session.get(Blob, digest)
                if blob is not None:
                    await session.delete(blob)
        await record_audit(
            session, actor_id=principal.user_id, action=QUARANTINE_DISCARDED, object_type="quarantine",
            object_id=item.id, data={"channel": channel},
        )
    if digest is not None and not still_used:
        await services.blobs.delete(digest)


async def purge_expired(services: Services, older_than: datetime, *, limit: int = 500) -> int:
    """Delete quarantined items created before ``older_than`` and the raw content no row needs any more."""
    async with services.transaction() as unit:
        session = unit.session
        rows = (
            await session.execute(
                select(QuarantinedItem.id, QuarantinedItem.blob_sha256)
                .where(QuarantinedItem.created_at < older_than)
                .order_by(QuarantinedItem.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return 0
        ids = [row_id for row_id, _ in rows]
        digests = sorted({digest for _, digest in rows if digest is not None})
        await session.execute(delete(QuarantinedItem).where(QuarantinedItem.id.in_(ids)))
        used: set[str | None] = set()
        if digests:
            for column in (MessageAttachment.blob_sha256, QuarantinedItem.blob_sha256):
                used.update((await session.scalars(select(column).where(column.in_(digests)))).all())
        doomed = [digest for digest in digests if digest not in used]
        if doomed:
            await session.execute(delete(Blob).where(Blob.sha256.in_(doomed)))
    for digest in doomed:
        await services.blobs.delete(digest)
    log.info("quarantine retention: %d item(s) older than %s deleted", len(ids), older_than.isoformat())
    return len(ids)


class QuarantineRetention(Periodic):
    """Deletes quarantined items after ``keep_days`` (hourly); every process may run it."""

    def __init__(self, services: Services, keep_days: int, *, interval: float = 3600.0) -> None:
        self.services = services
        self.keep_days = keep_days
        super().__init__("quarantine-retention", self._purge, interval)

    async def _purge(self) -> None:
        while await purge_expired(self.services, utcnow() - timedelta(days=self.keep_days)):
            pass
