"""What the Meta webhook parsers produce: platform-neutral, before media is fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from hub.channels.base import Capabilities, MessageTag
from hub.messages import DeliveryStatus

Platform = Literal["messenger", "instagram", "whatsapp"]
PLATFORMS: tuple[Platform, ...] = ("messenger", "instagram", "whatsapp")
# The webhook's ``object`` for each platform.
OBJECT_OF: dict[Platform, str] = {
    "messenger": "page",
    "instagram": "instagram",
    "whatsapp": "whatsapp_business_account",
}
DAY = timedelta(hours=24)
MB = 1 << 20

# https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags
_MESSENGER_TAGS = (
    MessageTag("HUMAN_AGENT", timedelta(days=7)),
    MessageTag("ACCOUNT_UPDATE"),
    MessageTag("CONFIRMED_EVENT_UPDATE"),
    MessageTag("POST_PURCHASE_UPDATE"),
)
CAPABILITIES: dict[Platform, Capabilities] = {
    # https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
    "whatsapp": Capabilities(
        max_text_length=4096, overflow="split", max_parts=5, attachments=True,
        attachment_types=("image/jpeg", "image/png", "video/mp4", "video/3gpp", "audio/*", "application/*", "text/plain"),
        max_attachment_bytes=16 * MB, max_attachments=10, separate_attachments=True,
        reply_window=DAY, templates=True, read_receipts=True,
    ),
    "messenger": Capabilities(
        max_text_length=2000, overflow="split", max_parts=5, attachments=True,
        attachment_types=("image/*", "video/*", "audio/*", "application/*", "text/*"),
        max_attachment_bytes=25 * MB, max_attachments=10, separate_attachments=True,
        reply_window=DAY, message_tags=_MESSENGER_TAGS,
    ),
    "instagram": Capabilities(
        max_text_length=1000, overflow="split", max_parts=5, attachments=True,
        attachment_types=("image/jpeg", "image/png", "video/mp4", "audio/*"),
        max_attachment_bytes=8 * MB, max_attachments=10, separate_attachments=True,
        reply_window=DAY, message_tags=(MessageTag("HUMAN_AGENT", timedelta(days=7)),),
    ),
}


@dataclass(frozen=True)
class MediaRef:
    """A file in a customer's message: a URL (Messenger, Instagram) or a media id (WhatsApp)."""

    kind: str
    url: str | None = None
    media_id: str | None = None
    content_type: str | None = None
    filename: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class MetaInbound:
    route_id: str  # the page, Instagram account or WhatsApp phone number id it was sent to
    sender_id: str  # PSID, IGSID, or the WhatsApp user's phone number
    provider_id: str
    text: str
    timestamp: float  # seconds
    name: str | None = None
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True)
class MetaStatus:
    route_id: str
    provider_id: str
    status: DeliveryStatus
    timestamp: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ParsedWebhook:
    """One POST: its object, and per routing id the messages, statuses and unused events."""

    object: str
    messages: tuple[MetaInbound, ...] = ()
    statuses: tuple[MetaStatus, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()  # (routing id, what)
    route_ids: frozenset[str] = field(default_factory=frozenset)
