"""The ``twilio`` channel: SMS/MMS or WhatsApp through one Twilio number.

Inbound: ``POST /webhooks/twilio/{name}/messages`` (Twilio's "A message comes in"
webhook) and ``POST /webhooks/twilio/{name}/status`` (the StatusCallback the hub sets on
every message it sends). Each request's ``X-Twilio-Signature`` is checked against the
public URL before anything is parsed. ``MessageSid`` is the message's provider id, so
Twilio's retries store nothing twice. Senders become phone identities in E.164 — the
same identity for SMS, WhatsApp (``whatsapp:+49...``) and voice. MMS media is fetched
with the account's credentials from Twilio's media hosts only, every redirect checked.
A message that is only an opt-out, opt-in or help keyword is also a consent statement
(``hub.channels.twilio.keywords``); HELP is answered in the webhook's TwiML.

Outbound: the Messages API through the library, with the StatusCallback URL; WhatsApp
templates as Content API ``ContentSid`` + ``ContentVariables``; the 24-hour window is
enforced by shared code before anything is sent.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
from collections.abc import Mapping
from datetime import timedelta

from multidict import MultiDict
from twilio.twiml.messaging_response import MessagingResponse

from hub.channels import media
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
from hub.channels.twilio import keywords, segments
from hub.channels.twilio.account import account_from_config, media_url_allowed
from hub.channels.twilio.messaging import Platform, messaging_options
from hub.channels.twilio.rest import TwilioRest
from hub.channels.twilio.signature import WebhookSignature, form_params
from hub.channels.twilio.webhook import IncomingMessage, incoming_message, status_report
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import NotFound, ValidationFailed
from hub.messages import (
    Attachment,
    ConsentStatement,
    IdentityKind,
    InboundMessage,
    OutboundMessage,
    Sender,
    StatusEvent,
    Template,
)
from hub.net import DestinationPolicy
from hub.validation import ensure_storable

log = logging.getLogger(__name__)

MESSAGES_PATH = "/webhooks/twilio/{name}/messages"
STATUS_PATH = "/webhooks/twilio/{name}/status"
BODY_LIMIT = 1600  # Twilio's limit on Body; longer SMS texts are sent as up to 10 segments anyway
TWIML_TYPE = "application/xml"
CAPABILITIES: dict[Platform, Capabilities] = {
    "sms": Capabilities(max_text_length=BODY_LIMIT),
    # https://www.twilio.com/docs/whatsapp/key-concepts#the-24-hour-window-or-24-hour-session
    "whatsapp": Capabilities(
        max_text_length=BODY_LIMIT, overflow="split", max_parts=3, reply_window=timedelta(hours=24),
        templates=True, read_receipts=True,
    ),
}


class TwilioChannel(ChannelAdapter):
    type = "twilio"
    webhook_routes = (WebhookRoute(MESSAGES_PATH, by_name=True), WebhookRoute(STATUS_PATH, by_name=True))

    @classmethod
    def capability_variants(cls) -> Mapping[str, Capabilities]:
        return {f"{cls.type} ({platform})": caps for platform, caps in CAPABILITIES.items()}

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self._policy = DestinationPolicy(context.settings.outbound_allow_networks)
        self.account = account_from_config(config, self._policy)
        self.options = messaging_options(config, context.settings)
        self.capabilities = CAPABILITIES[self.options.platform]
        self.consent_channel = self.options.platform
        self._signature = WebhookSignature(self.account.auth_token, context.settings.public_url)
        self._rest = TwilioRest(context.http, self.account, self._policy)
        credentials = f"{self.account.account_sid}:{self.account.auth_token}".encode()
        self._media_auth = {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
        public = context.settings.public_url.rstrip("/")
        self.status_callback = public + STATUS_PATH.format(name=config.name)
        self._verified: dict[int, MultiDict[str]] = {}

    def verify(self, request: InboundRequest) -> None:
        # ``receive`` follows for the same request object: keep the parameters parsed once.
        self._verified[id(request)] = self._signature.verify(request)

    async def receive(self, request: InboundRequest) -> WebhookResult:
        params = self._verified.pop(id(request), None)
        if params is None:
            params = form_params(request.body)
        if params.get("AccountSid") != self.account.account_sid:
            # Signed with our token, but not for our account (a subaccount sharing the token).
            return WebhookResult(ignored=["a request for another Twilio account"], reply=_twiml())
        path = request.path.split("?", 1)[0]
        if path.endswith("/status"):
            return self._status(params)
        if path.endswith("/messages"):
            return await self._incoming(incoming_message(params))
        raise NotFound("no such Twilio webhook")

    def _status(self, params: MultiDict[str]) -> WebhookResult:
        report = status_report(params)
        if report.status is None:
            return WebhookResult(ignored=[f"status {report.twilio_status} of {report.sid}"])
        error = None
        if report.error_code or report.status.value == "failed":
            code = f"Twilio error {report.error_code}" if report.error_code else "Twilio"
            error = f"{code}: {report.twilio_status}" + (f" ({report.error_message})" if report.error_message else "")
        event = StatusEvent(channel=self.name, provider_message_id=report.sid, status=report.status, error=error)
        return WebhookResult(items=[event])

    async def _incoming(self, message: IncomingMessage) -> WebhookResult:
        if not self._for_me(message.to):
            return WebhookResult(ignored=[f"message {message.sid} to another number"], reply=_twiml())
        try:
            sender = identities.phone(message.sender, self.options.default_region)
        except ValidationFailed:
            # By sid only: the detail would quote the number.
            return WebhookResult(ignored=[f"message {message.sid} from a sender the hub cannot read"], reply=_twiml())
        attachments: list[Attachment] = []
        notes: list[str] = []
        if message.media and not await self._known(message):  # a retry of a stored MMS fetches nothing
            attachments, notes = await self._media(message)
        text = "\n".join(t for t in (message.body, *notes) if t)
        try:
            ensure_storable(text=text, name=message.profile_name)
        except ValidationFailed as exc:
            return WebhookResult(ignored=[f"message {message.sid} that cannot be stored ({exc.detail})"], reply=_twiml())
        keyword = keywords.classify(message.body) if not message.media else None
        consent, answer = None, None
        if keyword is not None:
            kind, word = keyword
            if kind is keywords.Keyword.OPT_OUT:
                consent = ConsentStatement(channel=self.consent_channel, granted=False, purpose="all", keyword=word)
                answer = self.options.opt_out_text
            elif kind is keywords.Keyword.OPT_IN:
                consent = ConsentStatement(channel=self.consent_channel, granted=True, purpose="service", keyword=word)
                answer = self.options.opt_in_text
            else:
                answer = self.options.help_text
        inbound = InboundMessage(
            channel=self.name,
            provider_message_id=message.sid,
            sender=Sender((sender,), name=message.profile_name[:200] if message.profile_name else None),
            text=text,
            attachments=tuple(attachments),
            # A keyword is a command to the hub: it reopens nothing and gets no automatic answer.
            auto_submitted="keyword" if keyword is not None else None,
            consent=consent,
        )
        return WebhookResult(items=[inbound], reply=_twiml(answer))

    async def _known(self, message: IncomingMessage) -> bool:
        """Whether a retried MMS is stored already: its media are not fetched again."""
        storage = self.context.storage
        return storage is not None and bool(await storage.known_message_ids(self.name, [message.sid]))

    def _for_me(self, to: str) -> bool:
        if self.options.number is None:
            return True  # a Messaging Service: its numbers are Twilio's business
        if to == self.options.address(self.options.number):
            return True
        try:
            return identities.phone(to, self.options.default_region).address == self.options.number
        except ValidationFailed:
            return False

    async def _media(self, message: IncomingMessage) -> tuple[list[Attachment], list[str]]:
        attachments: list[Attachment] = []
        notes: list[str] = []
        for index, item in enumerate(message.media):
            extension = mimetypes.guess_extension(item.content_type or "") or ""
            name = f"{'whatsapp' if self.options.platform == 'whatsapp' else 'mms'}-{message.sid[-8:]}-{index + 1}{extension}"
            try:
                if item.content_type and not media.type_allowed(item.content_type, self.options.media_types):
                    raise media.MediaRejected(f"media of type {item.content_type} is not stored")
                got = await media.download(
                    self.context.http, self._policy, item.url, max_bytes=self.options.max_media_bytes,
                    allowed_types=self.options.media_types, headers=self._media_auth,
                    allow_url=lambda url: media_url_allowed(self.account, url),
                )
            except media.MediaRejected as exc:
                log.info("channel %s: media %d of %s not stored: %s", self.name, index + 1, message.sid, exc.detail)
                notes.append(media.omitted(name, exc.detail))
                continue
            attachments.append(Attachment(filename=name, content_type=got.content_type, content=got.content))
        return attachments, notes

    def check_outbound(self, *, text: str, template: Template | None) -> None:
        if template is not None:
            if self.options.content_sid(template.name, template.language) is None:
                known = ", ".join(sorted(self.options.templates)) or "none"
                raise ValidationFailed(
                    f"channel {self.name!r} has no template {template.name!r} ({template.language}) configured "
                    f"(known: {known})",
                    extra={"code": "unknown_template"},
                )
            return
        if self.options.platform != "sms" or not text:
            return
        counted = segments.count(text)
        if counted.segments > self.options.max_segments:
            raise ValidationFailed(
                f"channel {self.name!r} sends at most {self.options.max_segments} SMS segments per message; this "
                f"text needs {counted.segments} ({counted.encoding}, {counted.per_segment} characters each)",
                extra={"code": "text_too_long", "segments": counted.segments, "max_segments": self.options.max_segments,
                       "encoding": counted.encoding},
            )

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.recipient.kind is not IdentityKind.PHONE:
            raise PermanentChannelError(f"a {self.options.platform} message needs the customer's phone number")
        params: dict[str, object] = {
            "to": self.options.address(message.recipient.address),
            "status_callback": self.status_callback,
        }
        if self.options.number is not None:
            params["from_"] = self.options.address(self.options.number)
        if self.options.messaging_service_sid is not None:
            params["messaging_service_sid"] = self.options.messaging_service_sid
        if message.template is not None:
            content_sid = self.options.content_sid(message.template.name, message.template.language)
            if content_sid is None:
                raise PermanentChannelError(f"template {message.template.name!r} is no longer configured")
            params["content_sid"] = content_sid
            if message.template.parameters:
                params["content_variables"] = json.dumps(
                    {str(i + 1): value for i, value in enumerate(message.template.parameters)}
                )
        else:
            params["body"] = message.text
        created = await self._rest.run("send", self._rest.api.messages.create_async(**params))
        sid = getattr(created, "sid", None)
        return SendResult(provider_message_id=sid if isinstance(sid, str) else None)


def _twiml(text: str | None = None) -> WebhookReply:
    """The answer to Twilio's webhook: an empty TwiML response, or one message back."""
    if not text:
        return _EMPTY
    response = MessagingResponse()
    response.message(text)
    return WebhookReply(body=str(response).encode(), content_type=TWIML_TYPE)


_EMPTY = WebhookReply(body=str(MessagingResponse()).encode(), content_type=TWIML_TYPE)
