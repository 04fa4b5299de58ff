"""The Meta channel: one WhatsApp number, Facebook page (Messenger) or Instagram account.

Inbound: Meta's one webhook, ``/webhooks/meta``, for all three. ``GET`` is the
subscription check (``hub.mode``, ``hub.verify_token``, ``hub.challenge``); every
``POST`` carries ``X-Hub-Signature-256``, HMAC-SHA256 of the raw body with the app
secret, checked before parsing. A POST may batch entries for several pages and
numbers: each channel takes those of its own id and names the rest ``foreign``.
Media is fetched through the Graph API (WhatsApp: media id → URL, with the token,
checked against its SHA-256) or from the URL Meta gives (Messenger, Instagram), with
the size/type limits and the outbound address policy. Messages are keyed by Meta's
message id, so a retried delivery stores nothing twice; statuses move replies on.
Outbound: text, media and (WhatsApp) templates through the Graph API; the 24-hour
window is enforced by shared code before anything is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime

from hub.channels import media, options
from hub.channels.base import (
    AdapterContext,
    Capabilities,
    ChannelAdapter,
    InboundRequest,
    PermanentChannelError,
    SendResult,
    WebhookReply,
    WebhookResult,
    WebhookRoute,
)
from hub.channels.meta import outbound
from hub.channels.meta.graph import GraphApi
from hub.channels.meta.model import (
    CAPABILITIES,
    OBJECT_OF,
    PLATFORMS,
    MediaRef,
    MetaInbound,
    Platform,
)
from hub.channels.meta.webhook import parse_webhook
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import ConfigError, Forbidden, Unauthorized, ValidationFailed
from hub.messages import (
    Attachment,
    Identity,
    IdentityKind,
    InboundMessage,
    OutboundMessage,
    Sender,
    StatusEvent,
)
from hub.net import DestinationPolicy
from hub.validation import ensure_storable

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
ID_OPTION: dict[Platform, str] = {"whatsapp": "phone_number_id", "messenger": "page_id", "instagram": "instagram_id"}


class MetaChannel(ChannelAdapter):
    type = "meta"
    webhook_routes = (WebhookRoute("/webhooks/meta", methods=("GET", "POST")),)

    @classmethod
    def capability_variants(cls) -> Mapping[str, Capabilities]:
        return {f"{cls.type} ({platform})": CAPABILITIES[platform] for platform in PLATFORMS}

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        platform = options.text(config, "platform")
        if platform not in PLATFORMS:
            raise ConfigError(f"channel {config.name!r}: platform must be one of {', '.join(PLATFORMS)}")
        self.platform: Platform = platform
        self.capabilities = CAPABILITIES[platform]
        self.consent_channel = "whatsapp" if platform == "whatsapp" else "social"
        self.route_id = options.required_text(config, ID_OPTION[platform])
        self._send_id = options.text(config, "send_id") or self.route_id
        self._app_secret = options.required_text(config, "app_secret").encode()
        self._verify_token = options.required_text(config, "verify_token").encode()
        self._policy = DestinationPolicy(context.settings.outbound_allow_networks)
        self._graph = GraphApi(
            context.http,
            options.api_url(config, "graph_url", DEFAULT_GRAPH_URL, self._policy),
            options.text(config, "graph_version", DEFAULT_GRAPH_VERSION) or DEFAULT_GRAPH_VERSION,
            options.required_text(config, "access_token"),
            self._policy,
        )
        self._max_media = min(
            options.positive_int(config, "max_media_bytes", context.settings.max_attachment_bytes),
            context.settings.max_attachment_bytes,
        )
        self._media_types = options.strings(config, "media_types") or media.DEFAULT_MEDIA_TYPES

    def verify(self, request: InboundRequest) -> None:
        if request.method == "GET":
            sent = request.query.get("hub.verify_token", "")
            if request.query.get("hub.mode") != "subscribe" or not hmac.compare_digest(sent.encode(), self._verify_token):
                raise Forbidden("the subscription check needs hub.mode=subscribe and this hub's verify token")
            return
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not header.startswith("sha256="):
            raise Unauthorized(f"missing {SIGNATURE_HEADER}")
        expected = "sha256=" + hmac.new(self._app_secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(header.encode(), expected.encode()):
            raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")

    async def receive(self, request: InboundRequest) -> WebhookResult:
        if request.method == "GET":
            challenge = request.query.get("hub.challenge")
            if not challenge:
                raise ValidationFailed("the subscription check has no hub.challenge")
            return WebhookResult(reply=WebhookReply(challenge.encode(), "text/plain"))
        parsed = parse_webhook(request.body)
        if parsed.object != OBJECT_OF[self.platform]:
            return WebhookResult(foreign=parsed.route_ids)
        mine = [m for m in parsed.messages if m.route_id == self.route_id]
        ignored = [what for route, what in parsed.ignored if route == self.route_id]
        items: list[InboundMessage | StatusEvent] = []
        for message in mine:
            try:
                sender = self._sender(message)
            except ValidationFailed:
                # Logged by id only: the detail would quote the number.
                ignored.append(f"message {message.provider_id} from a sender id the hub cannot read")
                continue
            try:
                items.append(await self._inbound(message, sender))
            except ValidationFailed as exc:  # e.g. a NUL character; its neighbours in the batch still go in
                ignored.append(f"message {message.provider_id} that cannot be stored ({exc.detail})")
        items.extend(
            StatusEvent(
                channel=self.name,
                provider_message_id=s.provider_id,
                status=s.status,
                error=s.error,
                occurred_at=datetime.fromtimestamp(s.timestamp, tz=UTC) if s.timestamp is not None else None,
            )
            for s in parsed.statuses
            if s.route_id == self.route_id
        )
        return WebhookResult(items=items, ignored=ignored, foreign=parsed.route_ids - {self.route_id})

    def _sender(self, message: MetaInbound) -> Identity:
        if self.platform == "whatsapp":
            return identities.phone("+" + message.sender_id.lstrip("+"))
        return identities.platform(f"{self.platform}.{self.route_id}", message.sender_id)

    async def _inbound(self, message: MetaInbound, sender: Identity) -> InboundMessage:
        attachments: list[Attachment] = []
        notes: list[str] = []
        for index, ref in enumerate(message.media):
            name = ref.filename or _filename(ref, message.provider_id, index)
            try:
                attachments.append(await self._fetch(ref, name))
            except media.MediaRejected as exc:
                notes.append(media.omitted(name, exc.detail))
        text = "\n".join(t for t in (message.text, *notes) if t)
        ensure_storable(text=text, name=message.name)
        return InboundMessage(
            channel=self.name,
            provider_message_id=message.provider_id,
            sender=Sender((sender,), name=message.name[:200] if message.name else None),
            text=text,
            attachments=tuple(attachments),
            received_at=datetime.fromtimestamp(message.timestamp, tz=UTC) if message.timestamp else None,
        )

    async def _fetch(self, ref: MediaRef, name: str) -> Attachment:
        headers: dict[str, str] = {}
        url, digest = ref.url, ref.sha256
        if ref.media_id is not None:
            try:
                info = await self._graph.get(ref.media_id)
            except PermanentChannelError as exc:
                raise media.MediaRejected(exc.detail) from exc
            if not isinstance(info, dict) or not isinstance(info.get("url"), str):
                raise media.MediaRejected("the Graph API gave no media URL")
            size = info.get("file_size")
            if size is not None and str(size).isdigit() and int(size) > self._max_media:
                raise media.MediaRejected(f"larger than {self._max_media} bytes")
            url, digest = info["url"], info.get("sha256") or digest
            headers = self._graph.auth  # WhatsApp media URLs need the token; only their own host gets it
        if url is None:
            raise media.MediaRejected("Meta gave no media URL")
        got = await media.download(
            self.context.http, self._policy, url, max_bytes=self._max_media,
            allowed_types=self._media_types, headers=headers,
        )
        if isinstance(digest, str) and digest and hashlib.sha256(got.content).hexdigest() != digest.lower():
            raise media.MediaRejected("its SHA-256 does not match what Meta announced")
        content_type = ref.content_type or got.content_type
        if not media.type_allowed(content_type, self._media_types):
            raise media.MediaRejected(f"media of type {content_type} is not stored")
        return Attachment(filename=name[:255], content_type=content_type.split(";")[0].strip(), content=got.content)

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.platform == "whatsapp":
            return await self._send_whatsapp(message)
        if message.recipient.kind is not IdentityKind.PLATFORM:
            raise PermanentChannelError(f"a {self.platform} reply needs the customer's {self.platform} id")
        recipient = message.recipient.address.partition(":")[2]
        if message.attachments:
            (item,) = message.attachments  # separate_attachments: one per delivery
            answer = await self._graph.post(
                f"{self._send_id}/messages", form=outbound.messenger_attachment(recipient, item, message.tag)
            )
        else:
            answer = await self._graph.post(
                f"{self._send_id}/messages", json=outbound.messenger_text(recipient, message.text, message.tag)
            )
        sent = answer.get("message_id") if isinstance(answer, dict) else None
        return SendResult(provider_message_id=sent if isinstance(sent, str) else None)

    async def _send_whatsapp(self, message: OutboundMessage) -> SendResult:
        if message.recipient.kind is not IdentityKind.PHONE:
            raise PermanentChannelError("a WhatsApp reply needs the customer's phone number")
        to = message.recipient.address.lstrip("+")
        path = f"{self._send_id}/messages"
        if message.template is not None:
            answer = await self._graph.post(path, json=outbound.whatsapp_template(to, message.template))
        elif message.attachments:
            (item,) = message.attachments
            uploaded = await self._graph.post(f"{self._send_id}/media", form=outbound.whatsapp_upload(item))
            media_id = uploaded.get("id") if isinstance(uploaded, dict) else None
            if not isinstance(media_id, str):
                raise PermanentChannelError("the Graph API accepted the upload but gave no media id")
            answer = await self._graph.post(path, json=outbound.whatsapp_media(to, item, media_id))
        else:
            answer = await self._graph.post(path, json=outbound.whatsapp_text(to, message.text))
        sent = answer.get("messages") if isinstance(answer, dict) else None
        first = sent[0].get("id") if isinstance(sent, list) and sent and isinstance(sent[0], dict) else None
        return SendResult(provider_message_id=first if isinstance(first, str) else None)


def _filename(ref: MediaRef, provider_id: str, index: int) -> str:
    extension = mimetypes.guess_extension(ref.content_type or "") or ""
    stem = hashlib.sha256(provider_id.encode()).hexdigest()[:12]
    return f"{ref.kind}-{stem}-{index + 1}{extension}"
