"""The web chat channel: the hub's own widget, embedded on the customer's website.

Inbound messages come over the visitor websocket (``hub.api.widget_ws``), not from a
provider's webhook; this adapter turns them into normalized messages with the
visitor's identities. Outbound, the visitor reads replies live from the event bus
(``hub.webchat.live``): a reply to a conversation whose widget is open in this process
is stored as sent at once (``delivers_live``), and the outbox's ``send()`` only has
work to do when the visitor has gone and left an email address: then the reply
continues through the channel named in ``offline_email_channel``.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any, Protocol, cast

from hub.channels.base import (
    AdapterContext,
    Capabilities,
    ChannelAdapter,
    PermanentChannelError,
    SendResult,
)
from hub.channels.webchat.options import (
    DEFAULT_ATTACHMENT_BYTES,
    DEFAULT_ATTACHMENT_TYPES,
    LANGUAGES,
    MAX_TEXT_LENGTH,
    WebchatOptions,
    parse_options,
)
from hub.channels.webchat.protocol import IdentityClaim
from hub.channels.webchat.tokens import (
    VerifiedIdentity,
    read_visitor_token,
    sign_visitor_token,
    verify_identity,
)
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import ConfigError, Forbidden
from hub.messages import Attachment, Identity, InboundMessage, OutboundMessage, Sender

VISITORS_STATE = "webchat.visitors"  # AdapterContext.state key of the VisitorReach
LIVE_STATE = "webchat.live"  # AdapterContext.state key of the LiveReach
ADAPTERS_STATE = "adapters"  # AdapterContext.state key of every configured adapter by name


class VisitorReach(Protocol):
    """The database side's answer to: is this conversation's visitor gone, and where to write then?"""

    async def offline_email(self, conversation_id: int, *, away_seconds: int) -> str | None:
        """The visitor's email address when no widget of theirs has been connected for ``away_seconds``."""
        ...


class LiveReach(Protocol):
    """The widgets open in this process."""

    def follows(self, conversation_id: int) -> bool:
        """Whether an open widget in this process shows the conversation live."""
        ...


def language(locale: str | None) -> str:
    """``de`` or ``en`` from a browser locale such as ``de-AT``; English when unknown."""
    prefix = (locale or "").strip().lower()[:2]
    return prefix if prefix in LANGUAGES else "en"


class WebchatChannel(ChannelAdapter):
    type = "webchat"
    # Agents' files reach the widget like the visitor's (same types, same limit).
    capabilities = Capabilities(
        max_text_length=MAX_TEXT_LENGTH,
        html=False,
        attachments=True,
        attachment_types=DEFAULT_ATTACHMENT_TYPES,
        max_attachment_bytes=DEFAULT_ATTACHMENT_BYTES,
        max_attachments=5,
        read_receipts=True,
        realtime=True,
        media="chat",
    )

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.options: WebchatOptions = parse_options(config, context.settings)
        self.capabilities = dataclasses.replace(
            type(self).capabilities,
            attachment_types=tuple(sorted(self.options.attachment_types)),
            max_attachment_bytes=self.options.max_attachment_bytes,
        )
        if not context.settings.secret_key:
            raise ConfigError(f"channel {config.name!r}: the hub needs a secret key to sign visitor tokens")
        self._secret = context.settings.secret_key
        self.identity_namespace = f"webchat.{config.name}"

    # --- visitors ----------------------------------------------------------------

    def issue_token(self, key: str, now: int | None = None) -> str:
        """A visitor token for ``key``."""
        return sign_visitor_token(self._secret, self.name, key, int(time.time()) if now is None else now)

    def visitor_key(self, token: str, now: int | None = None) -> str:
        """The visitor key inside ``token``; 401 when the token is not ours or has expired."""
        return read_visitor_token(
            self._secret,
            self.name,
            token,
            now=int(time.time()) if now is None else now,
            max_age=self.options.session_days * 86400,
        )

    def verify_claim(self, claim: IdentityClaim, now: int | None = None) -> VerifiedIdentity:
        """The site's signed user; 403 when identity verification is off or the signature is wrong."""
        secret = self.options.identity_secret
        if secret is None:
            raise Forbidden("this chat does not verify identities; send no identity")
        # The signature covers the email exactly as the site sent it; it is normalized after.
        verified = verify_identity(
            secret, claim.user_id, claim.email, claim.timestamp, claim.signature,
            now=int(time.time()) if now is None else now,
        )
        email = identities.email(claim.email).address if claim.email else None
        return VerifiedIdentity(verified.user_id, email)

    def check_origin(self, header: str | None) -> None:
        """403 unless the request comes from a page on one of the allowed origins."""
        if not self.options.origin_allowed(header):
            raise Forbidden("this site may not use the chat (its origin is not in allowed_origins)")

    def visitor_identities(self, key: str, user_id: str | None, verified_email: str | None) -> tuple[Identity, ...]:
        """Who the visitor is: the verified user first (replies follow the first), then the browser."""
        found: list[Identity] = []
        if user_id is not None:
            found.append(identities.platform(f"{self.identity_namespace}.user", user_id))
        if verified_email is not None:
            found.append(identities.email(verified_email))
        found.append(identities.platform(self.identity_namespace, key))
        return tuple(found)

    def inbound(
        self,
        *,
        key: str,
        client_id: str,
        text: str,
        sender: tuple[Identity, ...],
        name: str | None,
        attachments: tuple[Attachment, ...] = (),
    ) -> InboundMessage:
        """The visitor's message, idempotent per (visitor, client id)."""
        return InboundMessage(
            channel=self.name,
            provider_message_id=f"{key}:{client_id}",
            sender=Sender(identities=sender, name=name),
            text=text,
            attachments=attachments,
        )

    def is_open(self, now: datetime) -> bool:
        """Inside business hours (always, when none are configured)."""
        hours = self.options.business_hours
        return hours is None or hours.is_open(now)

    def public_config(self, now: datetime) -> dict[str, Any]:
        """What the widget needs to draw itself; nothing secret."""
        opts = self.options
        return {
            "channel": self.name,
            "online": self.is_open(now),
            "offline_email": opts.offline_email_channel is not None,
            "identity_required": opts.identity_required,
            "prechat": [f.to_json() for f in opts.prechat],
            "titles": dict(opts.titles),
            "color": opts.color,
            "max_text_length": MAX_TEXT_LENGTH,
            "attachments": {"types": sorted(opts.attachment_types), "max_bytes": opts.max_attachment_bytes},
            "languages": list(LANGUAGES),
        }

    # --- outbound ----------------------------------------------------------------

    def delivers_live(self, conversation_id: int) -> bool:
        """An open widget in this process follows the conversation: it reads the reply from the bus.

        That visitor is connected, so ``send()`` would find nothing to email either. If the
        widget closes before the reply's event arrives, the reply is in its history on the
        next visit, as with any reply sent while the visitor was away for a moment.
        """
        live = cast("LiveReach | None", self.context.state.get(LIVE_STATE))
        return live is not None and live.follows(conversation_id)

    async def send(self, message: OutboundMessage) -> SendResult:
        """Visitors read replies live or on their next visit; a visitor who is gone gets an email."""
        target = self.options.offline_email_channel
        if target is not None:
            reach = cast("VisitorReach | None", self.context.state.get(VISITORS_STATE))
            address = (
                await reach.offline_email(message.conversation_id, away_seconds=self.options.offline_after_seconds)
                if reach is not None
                else None
            )
            if address is not None:
                return await self._send_by_email(target, message, address)
        return SendResult(provider_message_id=f"webchat-{message.message_id}")

    async def _send_by_email(self, target: str, message: OutboundMessage, address: str) -> SendResult:
        adapters = self.context.state.get(ADAPTERS_STATE)
        email_adapter = adapters.get(target) if isinstance(adapters, dict) else None
        if not isinstance(email_adapter, ChannelAdapter) or not email_adapter.can_send:
            raise PermanentChannelError(f"the offline email channel {target!r} is not running")
        title = self.options.titles["en"]
        forwarded = dataclasses.replace(
            message,
            channel=target,
            recipient=identities.email(address),
            subject=message.subject or title,
            thread_key=f"webchat-{self.name}-{message.conversation_id}",
            in_reply_to=(),
        )
        return await email_adapter.send(forwarded)
