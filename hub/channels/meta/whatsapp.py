"""WhatsApp Cloud API webhooks (``object`` ``whatsapp_business_account``), parsed: no I/O.

https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components — each
``entry`` is a WhatsApp Business Account; each ``changes[].value`` belongs to one
business phone number (``metadata.phone_number_id`` routes it) and carries
``messages`` (text, media by id, location, contacts, interactive and button replies)
and ``statuses`` (sent, delivered, read, failed with errors). Timestamps are strings
of seconds.
"""

from __future__ import annotations

import msgspec

from hub.channels import rich
from hub.channels.meta.model import MediaRef, MetaInbound, MetaStatus
from hub.messages import DeliveryStatus


class Metadata(msgspec.Struct):
    phone_number_id: str
    display_phone_number: str | None = None


class Profile(msgspec.Struct):
    name: str | None = None


class ContactRef(msgspec.Struct):
    wa_id: str
    profile: Profile | None = None


class Text(msgspec.Struct):
    body: str


class Media(msgspec.Struct):
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


class Location(msgspec.Struct):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class Name(msgspec.Struct):
    formatted_name: str | None = None


class Phone(msgspec.Struct):
    phone: str | None = None


class Email(msgspec.Struct):
    email: str | None = None


class Card(msgspec.Struct):
    name: Name | None = None
    phones: list[Phone] = []
    emails: list[Email] = []


class Reply(msgspec.Struct):
    id: str
    title: str


class Interactive(msgspec.Struct):
    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(msgspec.Struct):
    text: str
    payload: str | None = None


class Message(msgspec.Struct):
    id: str
    type: str
    timestamp: str
    sender: str = msgspec.field(name="from")
    text: Text | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: list[Card] = []
    interactive: Interactive | None = None
    button: Button | None = None


class Error(msgspec.Struct):
    code: int
    title: str | None = None
    message: str | None = None
    error_data: dict[str, str] | None = None


class Status(msgspec.Struct):
    id: str
    status: str
    timestamp: str | None = None
    errors: list[Error] = []


class Value(msgspec.Struct):
    metadata: Metadata | None = None
    contacts: list[ContactRef] = []
    messages: list[Message] = []
    statuses: list[Status] = []


class Change(msgspec.Struct):
    field: str
    value: Value


class Entry(msgspec.Struct):
    id: str
    changes: list[Change] = []


STATUS = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def parse_entries(
    entries: list[Entry],
) -> tuple[list[MetaInbound], list[MetaStatus], list[tuple[str, str]]]:
    """Messages, status reports and ignored events of WhatsApp entries."""
    messages: list[MetaInbound] = []
    statuses: list[MetaStatus] = []
    ignored: list[tuple[str, str]] = []
    for entry in entries:
        for change in entry.changes:
            value = change.value
            route = value.metadata.phone_number_id if value.metadata else f"account {entry.id}"
            if change.field != "messages" or value.metadata is None:
                ignored.append((route, f"change {change.field}"))
                continue
            names = {c.wa_id: c.profile.name for c in value.contacts if c.profile and c.profile.name}
            for message in value.messages:
                parsed = _message(route, message, names.get(message.sender))
                if isinstance(parsed, str):
                    ignored.append((route, parsed))
                else:
                    messages.append(parsed)
            for status in value.statuses:
                known = STATUS.get(status.status)
                if known is None:
                    ignored.append((route, f"status {status.status}"))
                    continue
                statuses.append(
                    MetaStatus(
                        route_id=route,
                        provider_id=status.id,
                        status=known,
                        timestamp=_seconds(status.timestamp),
                        error=_error(status.errors) if known is DeliveryStatus.FAILED else None,
                    )
                )
    return messages, statuses, ignored


def _message(route: str, message: Message, name: str | None) -> MetaInbound | str:
    lines: list[str] = []
    media: list[MediaRef] = []
    kind = message.type
    if kind == "text" and message.text is not None:
        lines.append(message.text.body)
    elif kind in MEDIA_TYPES and getattr(message, kind) is not None:
        item: Media = getattr(message, kind)
        if item.caption:
            lines.append(item.caption)
        media.append(MediaRef(kind=kind, media_id=item.id, content_type=item.mime_type,
                              filename=item.filename, sha256=item.sha256))
    elif kind == "location" and message.location is not None:
        place = message.location
        lines.append(rich.location_text(place.latitude, place.longitude, place.name, place.address))
    elif kind == "contacts" and message.contacts:
        for card in message.contacts:
            lines.append(rich.contact_text(
                card.name.formatted_name if card.name else None,
                [p.phone for p in card.phones if p.phone], [e.email for e in card.emails if e.email],
            ))
    elif kind == "interactive" and message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        if reply is None:
            return f"interactive {message.interactive.type}"
        lines.append(rich.choice_text(reply.title, reply.id))
    elif kind == "button" and message.button is not None:
        lines.append(rich.choice_text(message.button.text, message.button.payload))
    else:
        return f"message of type {kind}"
    return MetaInbound(
        route_id=route,
        sender_id=message.sender,
        provider_id=message.id,
        text="\n".join(lines),
        timestamp=_seconds(message.timestamp) or 0.0,
        name=name,
        media=tuple(media),
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error(errors: list[Error]) -> str:
    if not errors:
        return "WhatsApp reported a failure without details"
    first = errors[0]
    details = (first.error_data or {}).get("details") or first.message
    return f"WhatsApp error {first.code}: {first.title or 'failed'}" + (f" ({details})" if details else "")
