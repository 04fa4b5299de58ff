"""The channel adapter contract every provider implements.

Inbound: ``verify()`` the raw request the provider's way, then ``parse_inbound()`` it
into normalized messages and status events. Outbound: ``send()`` returns the
provider's message id or raises ``TransientChannelError`` / ``PermanentChannelError``.
Long-lived connections (IMAP IDLE) live between ``start()`` and ``aclose()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

import aiohttp
from multidict import CIMultiDictProxy

from hub.config import ChannelConfig, Settings
from hub.errors import HubError
from hub.messages import InboundMessage, OutboundMessage, StatusEvent


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry; shared code enforces these, not each adapter."""

    max_text_length: int | None = None
    html: bool = False
    attachments: bool = False
    max_attachment_bytes: int | None = None
    reply_window: timedelta | None = None  # e.g. WhatsApp's 24 hours
    realtime: bool = False  # offered to agents (chat, voice) rather than assigned directly


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
class SendResult:
    provider_message_id: str | None


@dataclass
class AdapterContext:
    """What an adapter may use: settings, the shared HTTP client, and the inbox entry.

    Adapters never import the database: long-lived ones hand inbound messages to
    ``ingest`` and report delivery updates to ``report_status``.
    """

    settings: Settings
    http: aiohttp.ClientSession
    ingest: Callable[[InboundMessage], Awaitable[object]]
    report_status: Callable[[StatusEvent], Awaitable[None]]
    state: dict[str, object] = field(default_factory=dict)


class ChannelAdapter:
    """Base of every adapter. Subclasses set ``type`` and ``capabilities``."""

    type: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        self.config = config
        self.context = context

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def can_send(self) -> bool:
        """Whether replies can go out through this channel as configured."""
        return True

    async def start(self) -> None:
        """Open long-lived connections. Raise ``ConfigError`` if the channel cannot run."""

    async def aclose(self) -> None:
        """Close connections; called on shutdown."""

    def verify(self, request: InboundRequest) -> None:
        """Check the request's authenticity over its raw bytes; raise Unauthorized/Forbidden."""
        raise PermanentChannelError(f"channel type {self.type!r} takes no inbound HTTP requests")

    def parse_inbound(self, request: InboundRequest) -> Sequence[InboundMessage | StatusEvent]:
        """Turn a verified request into normalized messages; raise BadRequest when malformed."""
        raise PermanentChannelError(f"channel type {self.type!r} takes no inbound HTTP requests")

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; raise a typed channel error on failure."""
        raise PermanentChannelError(f"channel type {self.type!r} cannot send")

    def status(self) -> dict[str, object]:
        """Live status for admins (connected, last error, ...)."""
        return {}
