"""The email channel: a mailbox read over IMAP, replies sent over SMTP.

Inbound runs as long-lived folder workers (``hub.channels.email.mailbox``), one IMAP
connection per folder, so one slow or broken folder or mailbox never delays another.
In a cluster only the hub process holding the channel's lock reads the mailbox; the
others stand by and take over when it dies. Outbound is ``send()``, called by the
outbox, which retries transient SMTP failures and records permanent ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.channels.base import (
    AdapterContext,
    Capabilities,
    ChannelAdapter,
    ChannelStorage,
    PermanentChannelError,
    SendResult,
)
from hub.channels.email.compose import compose
from hub.channels.email.imap import ImapSession, imap_date
from hub.channels.email.importer import MailImporter, Outcome
from hub.channels.email.inbound import interpret
from hub.channels.email.mailbox import FolderWorker, wait_or_stop
from hub.channels.email.parsepool import ParsePool, shared_pool
from hub.channels.email.settings import EmailSettings, load_email_settings
from hub.channels.email.smtp import deliver
from hub.channels.email.tokens import Signer
from hub.config import ChannelConfig
from hub.errors import ConfigError
from hub.messages import InboundMessage, OutboundMessage, StatusEvent
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

STATUS_KEY = "status"
OUTBOUND_STATUS_KEY = "outbound_status"
STATUS_SAVE_DELAY = 1.0
STOP_TIMEOUT = 10.0  # a folder worker mid-chunk finishes it; then it is cancelled


@dataclass
class BackfillReport:
    """What ``hub email backfill`` did, per outcome."""

    considered: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class EmailChannel(ChannelAdapter):
    type = "email"
    # Mail servers commonly refuse messages over 20-25 MB, base64 included: keep replies well below.
    capabilities = Capabilities(
        max_text_length=100_000, html=True, attachments=True, max_attachment_bytes=15 << 20, max_attachments=10,
        media="email",
    )

    def __init__(self, config: ChannelConfig, context: AdapterContext, *, pool: ParsePool | None = None) -> None:
        super().__init__(config, context)
        self.settings: EmailSettings = load_email_settings(
            config, max_attachment_bytes=context.settings.max_attachment_bytes
        )
        self.signer = Signer(context.settings.secret_key, config.name)
        self.pool = pool or shared_pool
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._workers: dict[str, FolderWorker] = {}
        self._role = "stopped"
        self._status_task: asyncio.Task[None] | None = None
        self._smtp_error: str | None = None
        self._smtp_error_at: str | None = None
        self._last_sent_at: str | None = None

    @property
    def can_send(self) -> bool:
        return self.settings.smtp is not None

    def _storage(self) -> ChannelStorage:
        if self.context.storage is None:
            raise ConfigError(f"channel {self.name!r}: the email channel needs the hub's channel storage")
        return self.context.storage

    # --- inbound ----------------------------------------------------------------------

    def importer(self) -> MailImporter:
        return MailImporter(self.name, self.settings, self.signer, self.context, self._storage(), self.pool)

    def _worker(self, folder: str) -> FolderWorker:
        imap = self.settings.imap
        assert imap is not None
        return FolderWorker(
            self.name,
            folder,
            imap,
            self.importer(),
            self._storage(),
            self.settings.max_message_bytes,
            on_change=self._folder_changed,
        )

    async def start(self) -> None:
        if self.settings.imap is None:
            return
        self._storage()
        self._stop.clear()
        self._task = asyncio.create_task(self._supervise(), name=f"email:{self.name}")

    async def _supervise(self) -> None:
        """Hold the channel's lock and run one worker per folder; stand by without the lock."""
        imap = self.settings.imap
        assert imap is not None
        storage = self._storage()
        while not self._stop.is_set():
            self._role = "standby"
            self._schedule_status()
            lock = storage.exclusive(f"email:{self.name}")
            acquiring = asyncio.ensure_future(lock.__aenter__())
            stopping = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not acquiring.done():
                acquiring.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acquiring
                return
            lost = acquiring.result()
            try:
                self._role = "active"
                self._workers = {folder: self._worker(folder) for folder in imap.folders}
                await self._run_workers(lost)
            finally:
                self._role = "standby"
                await lock.__aexit__(None, None, None)
            if lost.is_set() and not self._stop.is_set():
                log.error("channel %s: lost the mailbox lock; waiting to take it again", self.name)
                await wait_or_stop(self._stop, 1.0)

    async def _run_workers(self, lost: asyncio.Event) -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(worker.run(stop), name=f"email:{self.name}:{folder}")
            for folder, worker in self._workers.items()
        ]
        watch_stop = asyncio.ensure_future(self._stop.wait())
        watch_lost = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({watch_stop, watch_lost, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch_stop.cancel()
            watch_lost.cancel()
            stop.set()
            done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                task.cancel()
            for task in [*done, *pending]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._save_status()

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_TIMEOUT + 5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        await cancel_and_wait(self._status_task)
        self._role = "stopped"

    async def reparse(self, raw: bytes) -> Sequence[InboundMessage | StatusEvent]:
        """A quarantined mail parsed again; raises ``UnparseableMail`` if it still fails."""
        parsed = await self.pool.parse(
            raw, max_attachment_bytes=self.context.settings.max_attachment_bytes,
            use_reply_to=self.settings.use_reply_to,
        )
        meaning = interpret(parsed, channel=self.name, signer=self.signer, own_addresses=self.settings.own_addresses)
        return [meaning.message] if meaning.message is not None else list(meaning.statuses)

    async def backfill(self, since: date, until: date | None = None) -> BackfillReport:
        """Import every mail of the configured folders that arrived in [since, until) again.

        Safe at any time: mails the channel holds are skipped by Message-ID (a header-only
        fetch), the rest are imported as usual. The folders' sync positions are untouched.
        """
        imap = self.settings.imap
        if imap is None:
            raise ConfigError(f"channel {self.name!r} has no IMAP settings to backfill from")
        report = BackfillReport()
        criteria = ["SINCE", imap_date(since)]
        if until is not None:
            criteria += ["BEFORE", imap_date(until)]
        for folder in imap.folders:
            worker = self._worker(folder)
            session = await ImapSession.open(imap)
            try:
                info = await session.select(folder)
                worker.state.uidvalidity = info.uidvalidity
                uids = await session.search(*criteria)
                report.considered += len(uids)
                outcomes: dict[int, Outcome] = {}
                for start in range(0, len(uids), imap.fetch_batch):
                    outcomes.update(
                        await worker.process_chunk(session, uids[start : start + imap.fetch_batch], prefilter=True)
                    )
                for outcome in outcomes.values():
                    report.counts[outcome.value] = report.counts.get(outcome.value, 0) + 1
            finally:
                await session.close()
        return report

    # --- outbound ---------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        smtp = self.settings.smtp
        if smtp is None:
            raise PermanentChannelError(f"channel {self.name!r} has no SMTP settings")
        mail = compose(
            message,
            from_address=self.settings.address,
            from_name=self.settings.display_name,
            reply_to=self.settings.reply_to,
            signer=self.signer,
            domain=self.settings.domain,
        )
        try:
            await deliver(mail, smtp, sender=self.settings.address, recipient=message.recipient.address)
        except Exception as exc:
            self._smtp_error = str(getattr(exc, "detail", exc))[:300]
            self._smtp_error_at = _now()
            await self._save_outbound_status()
            raise
        failed_before = self._last_sent_at is None or self._smtp_error is not None
        self._last_sent_at = _now()
        if failed_before:
            await self._save_outbound_status()
        return SendResult(provider_message_id=self.signer.message_id(message.message_id, self.settings.domain))

    # --- status -----------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        return {
            "role": self._role,
            "address": self.settings.address,
            "inbound": "imap" if self.settings.imap is not None else None,
            "outbound": "smtp" if self.settings.smtp is not None else None,
            "folders": {folder: worker.status() for folder, worker in self._workers.items()},
            "updated_at": _now(),
        }

    def outbound_status(self) -> dict[str, object]:
        return {
            "last_error": self._smtp_error,
            "last_error_at": self._smtp_error_at,
            "last_sent_at": self._last_sent_at,
            "updated_at": _now(),
        }

    async def _save_outbound_status(self) -> None:
        try:
            await self._storage().save_state(self.name, OUTBOUND_STATUS_KEY, self.outbound_status())
        except Exception as exc:
            log.warning("channel %s: outbound status not saved (%s)", self.name, type(exc).__name__)

    def _folder_changed(self, _worker: FolderWorker) -> None:
        self._schedule_status()

    def _schedule_status(self) -> None:
        if self._status_task is None or self._status_task.done():
            self._status_task = asyncio.create_task(self._delayed_status_save())

    async def _delayed_status_save(self) -> None:
        await asyncio.sleep(STATUS_SAVE_DELAY)
        await self._save_status()

    async def _save_status(self) -> None:
        if self._role != "active":
            return  # the process reading the mailbox reports; a standby would overwrite it
        try:
            await self._storage().save_state(self.name, STATUS_KEY, _jsonable(self.status()))
        except Exception as exc:
            log.warning("channel %s: status not saved (%s)", self.name, type(exc).__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value
