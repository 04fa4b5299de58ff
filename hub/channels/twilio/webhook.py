"""Twilio's messaging webhooks, parsed from their verified form parameters: no I/O.

Incoming message (https://www.twilio.com/docs/messaging/guides/webhook-request):
``MessageSid``, ``AccountSid``, ``From``, ``To``, ``Body``, ``NumMedia`` with
``MediaUrl{n}``/``MediaContentType{n}``; WhatsApp adds ``ProfileName`` and ``WaId``
and spells addresses ``whatsapp:+E164``. Status callback
(https://www.twilio.com/docs/messaging/api/message-resource#twilios-request-to-the-statuscallback-url):
``MessageSid``, ``MessageStatus``, ``ErrorCode`` (and ``ErrorMessage`` on some).
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import MultiDict

from hub.errors import ValidationFailed
from hub.messages import DeliveryStatus

MAX_MEDIA = 10
# Twilio's message statuses (outbound), mapped onto the hub's; the rest are acknowledged unused.
STATUS: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class MediaItem:
    url: str
    content_type: str | None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    sid: str
    account_sid: str
    sender: str  # as Twilio spells it: +E164, a short code, or whatsapp:+E164
    to: str
    body: str
    media: tuple[MediaItem, ...] = ()
    profile_name: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    sid: str
    account_sid: str
    twilio_status: str
    status: DeliveryStatus | None  # None: a status the hub does not track (receiving, received)
    error_code: str | None = None
    error_message: str | None = None


def _required(params: MultiDict[str], key: str) -> str:
    value = params.get(key, "").strip()
    if not value:
        raise ValidationFailed(f"the Twilio webhook has no {key}")
    return value


def incoming_message(params: MultiDict[str]) -> IncomingMessage:
    """An incoming SMS, MMS or WhatsApp message; ValidationFailed when a field Twilio always sends is missing."""
    sid = _required(params, "MessageSid")
    try:
        count = int(params.get("NumMedia", "0") or "0")
    except ValueError as exc:
        raise ValidationFailed("NumMedia is not a number") from exc
    media = tuple(
        MediaItem(url=params[f"MediaUrl{i}"], content_type=params.get(f"MediaContentType{i}") or None)
        for i in range(min(max(count, 0), MAX_MEDIA))
        if params.get(f"MediaUrl{i}")
    )
    return IncomingMessage(
        sid=sid,
        account_sid=_required(params, "AccountSid"),
        sender=_required(params, "From"),
        to=_required(params, "To"),
        body=params.get("Body", ""),
        media=media,
        profile_name=params.get("ProfileName") or None,
    )


def status_report(params: MultiDict[str]) -> StatusReport:
    """A status callback; ValidationFailed without MessageSid or MessageStatus."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise ValidationFailed("the Twilio status callback has no MessageSid")
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not raw:
        raise ValidationFailed("the Twilio status callback has no MessageStatus")
    return StatusReport(
        sid=sid,
        account_sid=_required(params, "AccountSid"),
        twilio_status=raw,
        status=STATUS.get(raw),
        error_code=params.get("ErrorCode") or None,
        error_message=params.get("ErrorMessage") or None,
    )
