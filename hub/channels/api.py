"""The API channel: any website form or app pushes customer messages over HTTP.

Inbound: ``POST /api/v1/channels/{name}/messages`` with the channel's bearer token.
Outbound: replies are POSTed to the channel's ``callback_url``, signed with
HMAC-SHA256 (see docs/channels/api.md for the verification recipe).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Annotated, Any

import aiohttp
import msgspec

from hub.channels.base import (
    Capabilities,
    ChannelAdapter,
    InboundRequest,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from hub.channels.transport import RETRYABLE_STATUS, retry_after, transport_error
from hub.crm_link import identities
from hub.errors import BadRequest, ConfigError, Unauthorized, ValidationFailed
from hub.messages import (
    Attachment,
    Identity,
    IdentityKind,
    InboundMessage,
    OutboundMessage,
    Sender,
    StatusEvent,
    ThreadHint,
)
from hub.net import BlockedDestination, DestinationPolicy
from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from hub.validation import ensure_storable

RESPONSE_READ_LIMIT = 4096


class ApiSender(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class ApiAttachment(msgspec.Struct, forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_type: Annotated[str, msgspec.Meta(min_length=3, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")]
    content_base64: str


class ApiInboundBody(msgspec.Struct, forbid_unknown_fields=True):
    """A customer message pushed by a website or app."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    sender: ApiSender
    text: Annotated[str, msgspec.Meta(max_length=100_000)]
    html: Annotated[str, msgspec.Meta(max_length=500_000)] | None = None
    subject: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    thread: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    attachments: Annotated[list[ApiAttachment], msgspec.Meta(max_length=20)] = []


_decoder = msgspec.json.Decoder(ApiInboundBody)

# Parsing a phone number costs ~50 us in phonenumbers (emails and ids cost ~2 us):
# senders who write again skip it. Invalid input raises and is never cached.
_phone = functools.lru_cache(maxsize=8192)(identities.phone)


def decode_attachment(item: ApiAttachment, limit: int) -> Attachment:
    """The attachment's bytes from base64; 422 when it is not base64 or larger than ``limit``."""
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(f"attachment {item.filename!r}: content_base64 is not base64") from exc
    if len(content) > limit:
        raise ValidationFailed(f"attachment {item.filename!r} is larger than {limit} bytes")
    return Attachment(filename=item.filename, content_type=item.content_type.lower(), content=content)


class ApiChannel(ChannelAdapter):
    type = "api"
    capabilities = Capabilities(max_text_length=100_000, html=True, attachments=True, media="messaging")

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        token = config.require("token")
        self._token_digest = hashlib.sha256(str(token).encode()).digest()
        self._default_region: str | None = config.options.get("default_region")
        self._callback_url: str | None = config.options.get("callback_url") or None
        self._callback_secret: bytes | None = None
        self._policy = DestinationPolicy(context.settings.outbound_allow_networks)
        if self._callback_url:
            self._callback_secret = str(config.require("callback_secret")).encode()
            try:
                self._policy.check_url(self._callback_url)
            except BlockedDestination as exc:
                raise ConfigError(f"channel {config.name!r}: callback_url: {exc.detail}") from exc

    @property
    def can_send(self) -> bool:
        return self._callback_url is not None

    def verify(self, request: InboundRequest) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send the channel token as 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._token_digest):
            raise Unauthorized("wrong channel token")

    def parse_inbound(self, request: InboundRequest) -> Sequence[InboundMessage | StatusEvent]:
        try:
            body = _decoder.decode(request.body)
        except msgspec.ValidationError as exc:
            raise ValidationFailed(str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from exc
        return [self._to_message(body)]

    def _to_message(self, body: ApiInboundBody) -> InboundMessage:
        ensure_storable(
            id=body.id,
            text=body.text,
            html=body.html,
            subject=body.subject,
            thread=body.thread,
            **{f"sender.{k}": getattr(body.sender, k) for k in ("email", "phone", "name", "external_id")},
            **{f"attachments[{i}].filename": a.filename for i, a in enumerate(body.attachments)},
        )
        found: list[Identity] = []
        if body.sender.external_id is not None:
            found.append(identities.platform(f"api.{self.name}", body.sender.external_id))
        if body.sender.email is not None:
            found.append(identities.email(body.sender.email))
        if body.sender.phone is not None:
            found.append(_phone(body.sender.phone, self._default_region))
        if not found:
            raise ValidationFailed("sender needs at least one of email, phone or external_id")
        if not body.text.strip() and not body.html and not body.attachments:
            raise ValidationFailed("the message is empty: give text, html or attachments")
        attachments = tuple(self._attachment(a) for a in body.attachments)
        name = body.sender.name.strip() if body.sender.name else None
        return InboundMessage(
            channel=self.name,
            provider_message_id=body.id,
            sender=Sender(identities=tuple(found), name=name or None),
            text=body.text,
            html=body.html,
            subject=body.subject,
            thread=ThreadHint(key=body.thread, references=(body.thread,) if body.thread else ()),
            attachments=attachments,
        )

    def _attachment(self, item: ApiAttachment) -> Attachment:
        return decode_attachment(item, self.context.settings.max_attachment_bytes)

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._callback_url is None or self._callback_secret is None:
            raise PermanentChannelError(f"channel {self.name!r} has no callback_url")
        payload = {
            "id": str(message.message_id),
            "conversation_id": message.conversation_id,
            "thread": message.thread_key,
            "recipient": _recipient_json(message.recipient),
            "text": message.text,
            "html": message.html,
            "subject": message.subject,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "content_base64": base64.b64encode(a.content).decode(),
                }
                for a in message.attachments
            ],
        }
        body = msgspec.json.encode(payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._callback_secret, timestamp, body),
            "Idempotency-Key": f"hub-message-{message.message_id}",
        }
        self._policy.check_url(self._callback_url)
        try:
            async with self.context.http.post(
                self._callback_url, data=body, headers=headers, allow_redirects=False
            ) as response:
                # Enough for an {"id": ...} answer or an error excerpt; never a whole page.
                text = (await response.content.read(RESPONSE_READ_LIMIT)).decode(errors="replace")
                return _result(response, text)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "callback") from exc


def _result(response: aiohttp.ClientResponse, text: str) -> SendResult:
    if 200 <= response.status < 300:
        provider_id: str | None = None
        if response.content_type == "application/json":
            try:
                data = msgspec.json.decode(text.encode())
            except msgspec.DecodeError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("id"), str | int):
                provider_id = str(data["id"])
        return SendResult(provider_message_id=provider_id)
    detail = f"callback answered HTTP {response.status}: {text[:300]}"
    if response.status in RETRYABLE_STATUS:
        raise TransientChannelError(detail, retry_after=retry_after(response.headers.get("Retry-After")))
    raise PermanentChannelError(detail)


def _recipient_json(identity: Identity) -> dict[str, str]:
    if identity.kind is IdentityKind.EMAIL:
        return {"email": identity.address}
    if identity.kind is IdentityKind.PHONE:
        return {"phone": identity.address}
    _namespace, _, user_id = identity.address.partition(":")
    return {"external_id": user_id}
