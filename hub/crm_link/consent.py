"""The consent ledger and the check every outbound message passes (DSGVO Art. 6, 7, 18, 21).

Vocabulary (docs/privacy.md): a statement is about one **purpose** (``service``:
answers and notices about the customer's own requests; ``marketing``: promotion,
newsletters) on one **channel** (``email``, ``sms``, ``whatsapp``, ``voice``,
``chat``, ``social``, ``api``). A withdrawal may name ``all`` purposes and/or ``all``
channels ("never contact me again"); a grant must be specific, because consent to
marketing must be given for a purpose and a channel (Art. 7, UWG §7).

The ledger is append-only: the newest statement (by ``occurred_at``, then id) that
matches a purpose and channel decides. Without any statement, ``service`` is allowed
(the customer wrote to us; Art. 6(1)(b)/(f)) and ``marketing`` is not (opt-in).

``ensure_outbound_allowed`` is called when a reply is written and again by the outbox
dispatcher right before sending, so a message queued before a withdrawal never goes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.crm_link.timeline import append_timeline
from hub.db.models import ConsentRecord, Contact, utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event
from hub.services import Unit

SERVICE = "service"
MARKETING = "marketing"
ALL = "all"
PURPOSES: tuple[str, ...] = (SERVICE, MARKETING)
CHANNELS: tuple[str, ...] = ("email", "sms", "whatsapp", "voice", "chat", "social", "api")
ALLOWED_WITHOUT_STATEMENT: Mapping[str, bool] = {SERVICE: True, MARKETING: False}

# Channel adapter type -> consent channel. An adapter whose type carries several
# channels (SMS and WhatsApp through one provider) sets ``consent_channel`` itself.
CHANNEL_OF_TYPE: dict[str, str] = {
    "email": "email",
    "sms": "sms",
    "whatsapp": "whatsapp",
    "twilio": "sms",
    "voice": "voice",
    "cti": "voice",
    "webchat": "chat",
    "slack": "chat",
    "meta": "social",
    "telegram": "social",
    "api": "api",
}

MAX_EVIDENCE_BYTES = 4096
SOURCE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"


class OutboundRefused(Conflict):
    """A message to the contact may not be sent; ``code`` says why (the UI shows it)."""

    code = "outbound_refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, extra={"type": f"urn:hub:problem:{self.code}", "code": self.code, **extra})


class ConsentWithdrawn(OutboundRefused):
    """The contact withdrew consent for this purpose on this channel."""

    code = "consent_withdrawn"


class ConsentMissing(OutboundRefused):
    """The purpose needs consent (marketing) and the contact never gave it."""

    code = "consent_missing"


class ProcessingRestricted(OutboundRefused):
    """Processing of the contact's data is restricted (Art. 18)."""

    code = "processing_restricted"


class ContactErased(OutboundRefused):
    """The contact's personal data was erased; there is no one to write to."""

    code = "contact_erased"


@dataclass(frozen=True, slots=True)
class ConsentState:
    """Whether ``purpose`` on ``channel`` is allowed now, and which statement says so.

    ``granted`` is None when no statement exists (then the purpose's default applies).
    """

    purpose: str
    channel: str
    allowed: bool
    granted: bool | None
    since: datetime | None
    consent_id: int | None


def consent_channel_for_type(adapter_type: str) -> str:
    """The consent channel of an adapter type; an unknown type is its own channel (only ``all`` matches it)."""
    return CHANNEL_OF_TYPE.get(adapter_type, adapter_type)


def consent_channel_of(adapter: object) -> str:
    """The consent channel an adapter sends on: its ``consent_channel`` attribute, else by its type."""
    declared = getattr(adapter, "consent_channel", None)
    if isinstance(declared, str) and declared:
        return declared
    return consent_channel_for_type(str(getattr(adapter, "type", "")))


def _check_vocabulary(purpose: str, channel: str, granted: bool) -> None:
    if purpose not in PURPOSES and purpose != ALL:
        raise ValidationFailed(f"purpose must be one of {', '.join((*PURPOSES, ALL))}")
    if channel not in CHANNELS and channel != ALL:
        raise ValidationFailed(f"channel must be one of {', '.join((*CHANNELS, ALL))}")
    if granted and ALL in (purpose, channel):
        raise ValidationFailed("consent is granted for one purpose on one channel; 'all' is for withdrawals")


def _check_evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    payload = dict(evidence or {})
    try:
        size = len(msgspec.json.encode(payload))
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValidationFailed("evidence must be a JSON object") from exc
    if size > MAX_EVIDENCE_BYTES:
        raise ValidationFailed(f"evidence is larger than {MAX_EVIDENCE_BYTES} bytes")
    return payload


async def record_consent(
    unit: Unit,
    contact_id: int,
    purpose: str,
    channel: str,
    granted: bool,
    source: str,
    text_version: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    *,
    actor_user_id: int | None = None,
    occurred_at: datetime | None = None,
) -> ConsentRecord:
    """Append a consent statement in the caller's transaction, with timeline entry and event.

    ``source`` says how it was captured (``sms_keyword``, ``web_form``, ``agent``,
    ``api``, ``import``, ...); ``text_version`` names the consent text the person saw;
    ``evidence`` is what proves it (personal data, erased with the contact).
    ``occurred_at`` is when the person said it (default: now). 404 when the contact
    does not exist, 409 when it was erased.
    """
    _check_vocabulary(purpose, channel, granted)
    payload = _check_evidence(evidence)
    if not re.match(SOURCE_PATTERN, source):
        raise ValidationFailed("source must be a short lower-case word such as 'sms_keyword' or 'web_form'")
    session = unit.session
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("no such contact")
    if contact.erased_at is not None:
        raise Conflict("the contact's personal data was erased; record nothing on it")
    now = utcnow()
    record = ConsentRecord(
        contact_id=contact_id,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source,
        text_version=text_version,
        evidence=payload,
        actor_user_id=actor_user_id,
        occurred_at=occurred_at or now,
        recorded_at=now,
    )
    session.add(record)
    await session.flush()
    summary = {"consent_id": record.id, "purpose": purpose, "channel": channel, "granted": granted, "source": source}
    await append_timeline(
        session, contact_id, "consent_changed", actor_user_id=actor_user_id, occurred_at=record.occurred_at, data=summary
    )
    unit.emit(Event(ev.CONTACT_CONSENT_CHANGED, contact_id=contact_id, user_id=actor_user_id, data=summary, occurred_at=now))
    return record


async def consent_states(session: AsyncSession, contact_id: int) -> list[ConsentState]:
    """The effective state of every purpose on every channel for the contact."""
    rows = (
        await session.execute(
            select(
                ConsentRecord.id, ConsentRecord.purpose, ConsentRecord.channel, ConsentRecord.granted,
                ConsentRecord.occurred_at,
            )
            .where(ConsentRecord.contact_id == contact_id)
            .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
        )
    ).all()
    states: list[ConsentState] = []
    for purpose in PURPOSES:
        for channel in CHANNELS:
            latest = None
            for row in rows:  # oldest first: the last match is the newest statement
                if row.purpose in (purpose, ALL) and row.channel in (channel, ALL):
                    latest = row
            if latest is None:
                states.append(ConsentState(purpose, channel, ALLOWED_WITHOUT_STATEMENT[purpose], None, None, None))
            else:
                states.append(
                    ConsentState(purpose, channel, latest.granted, latest.granted, latest.occurred_at, latest.id)
                )
    return states


async def ensure_outbound_allowed(
    session: AsyncSession, contact_id: int, channel: str, *, purpose: str = SERVICE
) -> None:
    """Raise an ``OutboundRefused`` (409) unless a message for ``purpose`` may go to the contact on ``channel``.

    ``channel`` is a consent channel (``consent_channel_of(adapter)``). Refused when the
    contact is erased or restricted (Art. 18), when the newest matching statement
    withdrew consent, or when ``purpose`` needs consent that was never given.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    newest_statement = (
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.purpose.in_((purpose, ALL)),
            ConsentRecord.channel.in_((channel, ALL)),
        )
        .order_by(ConsentRecord.occurred_at.desc(), ConsentRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # One statement: it runs before every reply.
    contact = (
        await session.execute(
            select(Contact.erased_at, Contact.restricted_at, newest_statement.label("granted"))
            .where(Contact.id == contact_id)
        )
    ).one_or_none()
    if contact is None:
        raise NotFound("no such contact")
    if contact.erased_at is not None:
        raise ContactErased("the contact's personal data was erased; nothing can be sent to them")
    if contact.restricted_at is not None:
        raise ProcessingRestricted(
            "processing of this contact's data is restricted (Art. 18 GDPR); nothing may be sent to them"
        )
    granted = contact.granted
    if granted is None:
        if ALLOWED_WITHOUT_STATEMENT[purpose]:
            return
        raise ConsentMissing(
            f"the contact has not consented to {purpose} messages on {channel}", purpose=purpose, channel=channel
        )
    if not granted:
        raise ConsentWithdrawn(
            f"the contact withdrew consent to {purpose} messages on {channel}", purpose=purpose, channel=channel
        )
