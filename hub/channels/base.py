"""The channel adapter contract every provider implements.

Inbound: ``verify()`` the raw request the provider's way, then ``parse_inbound()`` it
into normalized messages and status events. Outbound: ``send()`` returns the
provider's message id or raises ``TransientChannelError`` / ``PermanentChannelError``.
Long-lived connections (IMAP IDLE) live between ``start()`` and ``aclose()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal, Protocol

import aiohttp
from multidict import CIMultiDictProxy

from hub.calls import CallDesk
from hub.config import ChannelConfig, Settings
from hub.errors import HubError
from hub.messages import InboundMessage, OutboundMessage, StatusEvent, Template
from hub.routing.model import Media

LengthUnit = Literal["characters", "utf16"]
Overflow = Literal["refuse", "split"]


@dataclass(frozen=True)
class MessageTag:
    """A label that lets a message out after the reply window closed (Messenger's tags).

    ``window`` is how long after the customer's last message the tag may be used
    (``None``: any time); the provider still decides whether the page may use it.
    """

    name: str
    window: timedelta | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry; shared code (``hub.inbox.outbound_rules``) enforces these.

    Text longer than ``max_text_length`` (counted in ``length_unit``) is refused, or with
    ``overflow="split"`` sent as up to ``max_parts`` consecutive messages. Outgoing
    attachments must match ``attachment_types`` (``"image/*"`` patterns; empty: any)
    and be at most ``max_attachment_bytes`` each; they travel with the text in one
    ``send()``, or with ``separate_attachments`` one per provider message after it. With a ``reply_window`` (WhatsApp, Messenger: 24 hours
    after the customer's last message) a free-form reply after the window is refused:
    only a ``templates`` message or one of ``message_tags`` may go out then.
    ``edits``, ``reactions`` and ``read_receipts`` say what the hub takes from the
    channel: customers' edits, their reactions, and read reports on replies.
    """

    max_text_length: int | None = None
    length_unit: LengthUnit = "characters"
    overflow: Overflow = "refuse"
    max_parts: int = 1
    html: bool = False
    attachments: bool = False
    attachment_types: tuple[str, ...] = ()
    max_attachment_bytes: int | None = None
    max_attachments: int | None = None
    separate_attachments: bool = False
    reply_window: timedelta | None = None  # e.g. WhatsApp's 24 hours
    templates: bool = False
    message_tags: tuple[MessageTag, ...] = ()
    edits: bool = False
    reactions: bool = False
    read_receipts: bool = False
    realtime: bool = False  # offered to agents (chat, voice) rather than assigned directly
    # The capacity an agent's conversation on this channel counts against (docs/routing.md).
    media: Media = "messaging"


class TransientChannelError(HubError):
    """Sending failed in a way a later retry may fix (timeout, 5xx, rate limit)."""

    status = 502
    title = "Channel temporarily unavailable"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PermanentChannelError(HubError):
    """Sending failed for good (rejected recipient, bad request); never retried."""

    status = 502
    title = "Channel rejected the message"


@dataclass(frozen=True)
class InboundRequest:
    """A provider's HTTP request, framework-neutral, with the raw body for verification."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    remote: str | None = None


@dataclass(frozen=True)
class WebhookRoute:
    """An HTTP route the provider calls (``hub.api.webhooks`` serves it for the adapter type).

    Without ``by_name`` every channel of the type is a candidate for each request (one
    URL per provider app; the adapters tell their requests apart); with it the path's
    ``{name}`` names the channel.
    """

    path: str
    methods: tuple[str, ...] = ("POST",)
    by_name: bool = False


@dataclass(frozen=True)
class WebhookReply:
    """A body the provider expects in the answer (a verification challenge)."""

    body: bytes
    content_type: str = "text/plain"
    status: int = 200


@dataclass(frozen=True)
class WebhookResult:
    """What an adapter took from one verified webhook request.

    ``items`` are ingested or applied in order; ``ignored`` names the events it
    acknowledged without using (they are logged); ``foreign`` holds routing ids in the
    request that this channel does not serve (another channel of the type may);
    ``on_accepted`` runs once every item is committed (e.g. to remember an event id).
    """

    items: Sequence[InboundMessage | StatusEvent] = ()
    reply: WebhookReply | None = None
    ignored: Sequence[str] = ()
    foreign: frozenset[str] = frozenset()
    on_accepted: Callable[[], None] | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None


@dataclass(frozen=True)
class QuarantineRecord:
    """An inbound item that could not become a message, to be kept raw for admins."""

    channel: str
    reason: str  # a short stable code, e.g. ``no_sender``, ``too_large``
    detail: str
    raw: bytes | None  # None when the item was too large to keep
    size: int
    source: str | None = None  # where it came from, e.g. "INBOX uidvalidity 7 uid 42"
    sender: str | None = None
    subject: str | None = None


class ChannelStorage(Protocol):
    """What long-lived adapters keep in the hub's database without importing it."""

    async def load_state(self, channel: str, key: str) -> dict[str, Any] | None:
        """The JSON document stored under ``key`` for ``channel``, or None."""

    async def save_state(self, channel: str, key: str, data: dict[str, Any]) -> None:
        """Store ``data`` under ``key`` (replacing what was there)."""

    async def quarantine(self, record: QuarantineRecord) -> int:
        """Keep ``record``; returns its id. Keeping the same source twice keeps it once."""

    async def known_message_ids(self, channel: str, provider_ids: Sequence[str]) -> set[str]:
        """Which of ``provider_ids`` the channel already holds (inbound or sent)."""

    async def holds_messages(self, channel: str) -> bool:
        """Whether the channel holds any message at all (a first import can skip dedupe work)."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[asyncio.Event]:
        """Hold a cluster-wide lock named ``name`` (waits for it); the event is set if it is lost."""


@dataclass
class AdapterContext:
    """What an adapter may use: settings, the shared HTTP client, and the inbox entry.

    Adapters never import the database: long-lived ones hand inbound messages to
    ``ingest`` and report delivery updates to ``report_status``; telephony adapters
    report calls to ``calls`` (docs/calls.md).
    """

    settings: Settings
    http: aiohttp.ClientSession
    ingest: Callable[[InboundMessage], Awaitable[object]]
    report_status: Callable[[StatusEvent], Awaitable[None]]
    state: dict[str, object] = field(default_factory=dict)
    storage: ChannelStorage | None = None
    calls: CallDesk | None = None


class ChannelAdapter:
    """Base of every adapter. Subclasses set ``type`` and ``capabilities``."""

    type: ClassVar[str]
    webhook_routes: ClassVar[tuple[WebhookRoute, ...]] = ()
    # A class default; an adapter whose capabilities follow its configuration (Meta's
    # platforms) sets its own in ``__init__``.
    capabilities: Capabilities = Capabilities()

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        self.config = config
        self.context = context

    @property
    def name(self) -> str:
        return self.config.name

    @classmethod
    def capability_variants(cls) -> Mapping[str, Capabilities]:
        """What the type can declare, by variant name (for the documented matrix)."""
        return {cls.type: cls.capabilities}

    @property
    def can_send(self) -> bool:
        """Whether replies can go out through this channel as configured."""
        return True

    async def start(self) -> None:
        """Open long-lived connections. Raise ``ConfigError`` if the channel cannot run."""

    async def aclose(self) -> None:
        """Close connections; called on shutdown."""

    async def register_webhook(self) -> str | None:
        """Tell the provider where to send webhooks (Telegram's setWebhook); the URL, or None
        when the provider is set up in its own console instead."""
        return None

    def verify(self, request: InboundRequest) -> None:
        """Check the request's authenticity over its raw bytes; raise Unauthorized/Forbidden."""
        raise PermanentChannelError(f"channel type {self.type!r} takes no inbound HTTP requests")

    def parse_inbound(self, request: InboundRequest) -> Sequence[InboundMessage | StatusEvent]:
        """Turn a verified request into normalized messages; raise BadRequest when malformed."""
        raise PermanentChannelError(f"channel type {self.type!r} takes no inbound HTTP requests")

    async def receive(self, request: InboundRequest) -> WebhookResult:
        """A verified webhook request, parsed; adapters that must fetch (media, profiles) override."""
        return WebhookResult(items=self.parse_inbound(request))

    def check_outbound(self, *, text: str, template: Template | None) -> None:
        """Refuse a reply this channel's configuration cannot send (an unknown template, too
        many SMS segments) with ValidationFailed; called after the shared capability checks."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; raise a typed channel error on failure."""
        raise PermanentChannelError(f"channel type {self.type!r} cannot send")

    def delivers_live(self, conversation_id: int) -> bool:
        """Whether a reply in the conversation reaches its recipient now with nothing to send.

        True when a client of this process follows the conversation live and reads new
        messages from the event bus (the web chat's open widget). The reply is then
        stored as sent in its own transaction and skips the outbox; everything else is
        queued and ``send()`` decides. Answer from memory: it runs inside the reply's
        transaction.
        """
        return False

    def status(self) -> dict[str, object]:
        """Live status for admins (connected, last error, ...)."""
        return {}

    async def reparse(self, raw: bytes) -> Sequence[InboundMessage | StatusEvent]:
        """Parse a quarantined item again (after an upgrade or a config fix)."""
        raise PermanentChannelError(f"channel type {self.type!r} keeps no quarantine")
