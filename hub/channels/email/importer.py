"""Fetched raw mails → inbox messages, delivery reports or quarantine entries.

Each mail ends in exactly one outcome. ``RETRY`` means nothing was decided (the
database was unreachable, the hub is shutting down): the mailbox keeps the mail for
the next round, and a mail that fails ``MAX_TRIES`` rounds goes to the quarantine
so that it can never block the mail behind it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from hub.channels.base import AdapterContext, ChannelStorage, QuarantineRecord
from hub.channels.email.acknowledgement import Acknowledger
from hub.channels.email.classify import dedupe_key
from hub.channels.email.inbound import interpret
from hub.channels.email.mime import header_text
from hub.channels.email.parse import ParsedMail, UnparseableMail
from hub.channels.email.parsepool import ParsePool
from hub.channels.email.settings import EmailSettings
from hub.channels.email.tokens import Signer
from hub.errors import HubError

log = logging.getLogger(__name__)

MAX_TRIES = 3


class Outcome(enum.StrEnum):
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    REPORTED = "reported"  # a bounce that updated one of our outbound messages
    SKIPPED = "skipped"  # a mail loop or a delay report
    QUARANTINED = "quarantined"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class FetchedMail:
    uid: int
    raw: bytes
    internaldate: datetime | None
    source: str  # "INBOX uidvalidity 7 uid 42"


class MailImporter:
    """Imports mails of one email channel through the adapter context."""

    def __init__(
        self,
        channel: str,
        settings: EmailSettings,
        signer: Signer,
        context: AdapterContext,
        storage: ChannelStorage,
        pool: ParsePool,
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.signer = signer
        self.context = context
        self.storage = storage
        self.pool = pool
        self.max_attachment_bytes = context.settings.max_attachment_bytes
        self.acknowledger = (
            Acknowledger(channel, settings.acknowledge, settings.acknowledge_template, settings.acknowledge_min_interval)
            if settings.acknowledge
            else None
        )

    async def import_many(self, mails: Sequence[FetchedMail]) -> dict[int, Outcome]:
        """Import ``mails``; outcome per UID."""
        return await self.deliver_many(mails, await self.parse_many(mails))

    async def parse_many(self, mails: Sequence[FetchedMail]) -> list[ParsedMail | UnparseableMail]:
        """Parse ``mails`` concurrently in the worker processes."""
        return list(await asyncio.gather(*(self._parse(mail) for mail in mails)))

    async def deliver_many(
        self, mails: Sequence[FetchedMail], parsed: Sequence[ParsedMail | UnparseableMail]
    ) -> dict[int, Outcome]:
        """Hand parsed mails to the inbox in UID order, concurrently, so one group commit
        serves them and a reply in the same chunk as the mail it answers threads onto it."""
        outcomes = await asyncio.gather(*(self._deliver(mail, p) for mail, p in zip(mails, parsed, strict=True)))
        return {mail.uid: outcome for mail, outcome in zip(mails, outcomes, strict=True)}

    async def import_one(self, mail: FetchedMail) -> Outcome:
        return await self._deliver(mail, await self._parse(mail))

    async def _parse(self, mail: FetchedMail) -> ParsedMail | UnparseableMail:
        try:
            return await self.pool.parse(
                mail.raw, max_attachment_bytes=self.max_attachment_bytes, use_reply_to=self.settings.use_reply_to
            )
        except UnparseableMail as exc:
            return exc

    async def _deliver(self, mail: FetchedMail, parsed: ParsedMail | UnparseableMail) -> Outcome:
        if isinstance(parsed, UnparseableMail):
            return await self.quarantine(mail, parsed.reason, parsed.detail)
        meaning = interpret(
            parsed,
            channel=self.channel,
            signer=self.signer,
            own_addresses=self.settings.own_addresses,
            received_at=mail.internaldate,
            acknowledge=self.acknowledger,
        )
        if meaning.skipped is not None:
            log.info("channel %s: %s skipped (%s)", self.channel, mail.source, meaning.skipped)
            return Outcome.SKIPPED
        try:
            for status in meaning.statuses:
                await self.context.report_status(status)
            if meaning.message is None:
                return Outcome.REPORTED
            result = await self.context.ingest(meaning.message)
        except HubError as exc:  # refused for good (validation, size): keep it for an admin
            return await self.quarantine(mail, "rejected", exc.detail, sender=parsed.sender_address,
                                         subject=parsed.subject)
        except Exception as exc:  # the database or the hub is unavailable: try again later
            log.warning("channel %s: %s not imported yet (%s)", self.channel, mail.source, type(exc).__name__)
            return Outcome.RETRY
        return Outcome.DUPLICATE if getattr(result, "duplicate", False) else Outcome.IMPORTED

    async def quarantine(
        self,
        mail: FetchedMail,
        reason: str,
        detail: str,
        *,
        raw: bytes | None = None,
        size: int | None = None,
        sender: str | None = None,
        subject: str | None = None,
    ) -> Outcome:
        """Keep ``mail`` raw (or ``raw``, e.g. only its headers) in the quarantine."""
        content = mail.raw if raw is None else raw
        if sender is None or subject is None:
            sender, subject = sender or _header_sender(content), subject or _header_subject(content)
        try:
            await self.storage.quarantine(
                QuarantineRecord(
                    channel=self.channel,
                    reason=reason,
                    detail=detail,
                    raw=content,
                    size=size if size is not None else len(mail.raw),
                    source=mail.source,
                    sender=sender,
                    subject=subject,
                )
            )
        except Exception as exc:
            log.warning("channel %s: %s could not be quarantined (%s)", self.channel, mail.source, type(exc).__name__)
            return Outcome.RETRY
        return Outcome.QUARANTINED


_header_parser = BytesHeaderParser(policy=policy.default)


def _headers(raw: bytes) -> Message | None:
    try:
        return _header_parser.parsebytes(raw[:65536])
    except Exception:
        return None


def _header_sender(raw: bytes) -> str | None:
    headers = _headers(raw)
    if headers is None:
        return None
    address = parseaddr(header_text(headers, "From") or "")[1].strip().lower()
    return address[:320] if "@" in address else None


def _header_subject(raw: bytes) -> str | None:
    headers = _headers(raw)
    return header_text(headers, "Subject") if headers is not None else None


def dedupe_key_of(header_block: bytes) -> str | None:
    """The dedupe key of a mail from its fetched ``KEY_HEADERS``, None without a Message-ID."""
    headers = _headers(header_block)
    return dedupe_key(headers) if headers is not None else None
