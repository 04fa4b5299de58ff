"""Messenger and Instagram webhooks (``object`` ``page`` / ``instagram``), parsed: no I/O.

https://developers.facebook.com/docs/messenger-platform/reference/webhook-events —
each ``entry`` is one page or Instagram account (its ``id`` routes it) with a batch
of ``messaging`` events: messages (text, attachments, quick replies), postbacks
(buttons), deliveries; echoes of the page's own messages, reads, reactions and other
events are named so the webhook logs them. Timestamps are in milliseconds.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hub.channels import rich
from hub.channels.meta.model import MediaRef, MetaInbound, MetaStatus
from hub.messages import DeliveryStatus


class Party(msgspec.Struct):
    id: str


class Payload(msgspec.Struct):
    url: str | None = None
    coordinates: dict[str, float] | None = None
    title: str | None = None


class AttachmentItem(msgspec.Struct):
    type: str
    payload: Payload | None = None
    title: str | None = None


class QuickReply(msgspec.Struct):
    payload: str


class Message(msgspec.Struct):
    mid: str
    text: str | None = None
    attachments: list[AttachmentItem] = []
    quick_reply: QuickReply | None = None
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False


class Postback(msgspec.Struct):
    title: str | None = None
    payload: str | None = None
    mid: str | None = None


class Delivery(msgspec.Struct):
    mids: list[str] = []
    watermark: int | None = None


class Event(msgspec.Struct):
    sender: Party
    recipient: Party
    timestamp: int = 0
    message: Message | None = None
    postback: Postback | None = None
    delivery: Delivery | None = None


class Entry(msgspec.Struct):
    id: str
    time: int = 0
    messaging: list[msgspec.Raw] = []


_event = msgspec.json.Decoder(Event)
_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])
MEDIA_KINDS = {"image": "image/*", "video": "video/*", "audio": "audio/*", "file": None}


def parse_entries(
    entries: list[Entry],
) -> tuple[list[MetaInbound], list[MetaStatus], list[tuple[str, str]]]:
    """Messages, delivery reports and ignored events of Messenger/Instagram entries."""
    messages: list[MetaInbound] = []
    statuses: list[MetaStatus] = []
    ignored: list[tuple[str, str]] = []
    for entry in entries:
        for raw in entry.messaging:
            event = _event.decode(raw)
            parsed = _event_items(entry.id, event)
            if isinstance(parsed, str):
                kinds = [k for k in _keys.decode(raw) if k not in ("sender", "recipient", "timestamp")]
                ignored.append((entry.id, parsed if parsed != "?" else "event " + (", ".join(kinds) or "without a type")))
            elif isinstance(parsed, MetaInbound):
                messages.append(parsed)
            else:
                statuses.extend(parsed)
    return messages, statuses, ignored


def _event_items(route_id: str, event: Event) -> MetaInbound | list[MetaStatus] | str:
    seconds = event.timestamp / 1000
    if event.message is not None:
        return _message(route_id, event, event.message, seconds)
    if event.postback is not None:
        back = event.postback
        return MetaInbound(
            route_id=route_id,
            sender_id=event.sender.id,
            provider_id=back.mid or f"postback:{event.sender.id}:{event.timestamp}",
            text=rich.choice_text(back.title or back.payload or "(button)", back.payload),
            timestamp=seconds,
        )
    if event.delivery is not None:
        return [
            MetaStatus(route_id=route_id, provider_id=mid, status=DeliveryStatus.DELIVERED, timestamp=seconds)
            for mid in event.delivery.mids
        ] or "delivery without message ids (watermark only)"
    return "?"


def _message(route_id: str, event: Event, message: Message, seconds: float) -> MetaInbound | str:
    if message.is_echo:
        return "echo of a message the page sent"
    if message.is_deleted or message.is_unsupported:
        return "deleted or unsupported message"
    lines = [message.text] if message.text else []
    if message.quick_reply is not None and message.text:
        lines = [rich.choice_text(message.text, message.quick_reply.payload)]
    media: list[MediaRef] = []
    for item in message.attachments:
        payload = item.payload or Payload()
        if item.type == "location" and payload.coordinates:
            coords: dict[str, Any] = payload.coordinates
            lines.append(rich.location_text(float(coords.get("lat", 0)), float(coords.get("long", 0)), payload.title))
        elif item.type in MEDIA_KINDS and payload.url:
            media.append(MediaRef(kind=item.type, url=payload.url))
        elif payload.url:
            lines.append(f"[{item.type}: {payload.url}]")  # a shared link, a reel, a post
        else:
            lines.append(f"[{item.type} without content]")
    if not lines and not media:
        return "message without text or attachments"
    return MetaInbound(
        route_id=route_id,
        sender_id=event.sender.id,
        provider_id=message.mid,
        text="\n".join(lines),
        timestamp=seconds,
        media=tuple(media),
    )
