"""The Telegram channel: customers write to your bot; agents answer as the bot.

Inbound: Telegram posts each update to ``/webhooks/telegram/<channel name>`` with the
``secret_token`` given to ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``,
compared in constant time before the body is read. Messages, edits, photos and
documents (fetched with ``getFile`` within limits) and pressed buttons (callback
queries, answered so the client stops waiting) become messages; a retried update
stores nothing twice. Outbound: ``sendMessage``, ``sendPhoto``, ``sendDocument``.
``hub channels register-webhooks`` (or ``set_webhook = true`` at start-up) calls
``setWebhook`` with the hub's URL and the secret.
"""

from __future__ import annotations

import hmac
import logging
import re

import aiohttp

from hub.channels import media, options
from hub.channels.base import (
    AdapterContext,
    Capabilities,
    ChannelAdapter,
    InboundRequest,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
    WebhookResult,
    WebhookRoute,
)
from hub.channels.telegram.api import BotApi
from hub.channels.telegram.parse import FileRef, TelegramMessage, chat_of, parse_update
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import ConfigError, Forbidden, Unauthorized
from hub.messages import Attachment, InboundMessage, OutboundMessage, Sender, ThreadHint
from hub.net import DestinationPolicy
from hub.validation import ensure_storable

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
DOWNLOAD_LIMIT = 20 << 20  # the Bot API lets bots download files up to 20 MB
PHOTO_LIMIT = 10 << 20
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
UPDATES = ["message", "edited_message", "callback_query"]


class TelegramChannel(ChannelAdapter):
    type = "telegram"
    webhook_routes = (WebhookRoute("/webhooks/telegram/{name}", by_name=True),)
    capabilities = Capabilities(
        max_text_length=4096,
        length_unit="utf16",
        overflow="split",
        max_parts=10,
        attachments=True,
        max_attachment_bytes=50 << 20,
        max_attachments=10,
        separate_attachments=True,
        edits=True,
    )

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self._secret = options.required_text(config, "secret_token").encode()
        if not _SECRET.match(self._secret.decode()):
            raise ConfigError(f"channel {config.name!r}: secret_token must be 1-256 of A-Z, a-z, 0-9, _ and -")
        self._policy = DestinationPolicy(context.settings.outbound_allow_networks)
        self._api = BotApi(
            context.http,
            options.api_url(config, "api_url", DEFAULT_API_URL, self._policy),
            options.required_text(config, "bot_token"),
            self._policy,
        )
        self._group_chats = options.flag(config, "group_chats", False)
        self._set_webhook = options.flag(config, "set_webhook", False)
        self._max_media = min(
            options.positive_int(config, "max_media_bytes", context.settings.max_attachment_bytes),
            context.settings.max_attachment_bytes,
            DOWNLOAD_LIMIT,
        )
        self._media_types = options.strings(config, "media_types") or media.DEFAULT_MEDIA_TYPES
        self._taken = media.RecentIds()

    async def start(self) -> None:
        if self._set_webhook:
            await self.register_webhook()

    def webhook_url(self) -> str:
        return f"{self.context.settings.public_url}/webhooks/telegram/{self.name}"

    async def register_webhook(self) -> str | None:
        """Point the bot's webhook at this hub, with the secret token; returns the URL."""
        url = self.webhook_url()
        await self._api.call(
            "setWebhook",
            json={"url": url, "secret_token": self._secret.decode(), "allowed_updates": UPDATES},
        )
        log.info("telegram channel %s: webhook set to %s", self.name, url)
        return url

    def verify(self, request: InboundRequest) -> None:
        sent = request.headers.get(SECRET_HEADER)
        if not sent:
            raise Unauthorized(f"missing {SECRET_HEADER}")
        if not hmac.compare_digest(sent.encode(), self._secret):
            raise Forbidden(f"wrong {SECRET_HEADER}")

    async def receive(self, request: InboundRequest) -> WebhookResult:
        parsed = parse_update(request.body, group_chats=self._group_chats)
        update_id = str(parsed.update_id)
        if update_id in self._taken:
            return WebhookResult(ignored=(f"repeated update {update_id}, taken before",))
        items = [await self._inbound(m) for m in parsed.messages]
        return WebhookResult(items=items, ignored=parsed.ignored, on_accepted=lambda: self._taken.add(update_id))

    async def _inbound(self, message: TelegramMessage) -> InboundMessage:
        if message.callback_id is not None:
            await self._answer_callback(message.callback_id)
        attachments, notes = await self._files(message.files)
        text = "\n".join(t for t in (message.text, *notes) if t)
        name = message.user.display_name
        ensure_storable(text=text, name=name)
        return InboundMessage(
            channel=self.name,
            provider_message_id=message.provider_id,
            sender=Sender((identities.platform("telegram", str(message.user.id)),), name=name[:200] if name else None),
            text=text,
            thread=ThreadHint(key=message.thread_key),
            attachments=attachments,
            received_at=message.received_at,
            edit_of=message.edit_of,
        )

    async def _answer_callback(self, callback_id: str) -> None:
        try:
            await self._api.call("answerCallbackQuery", json={"callback_query_id": callback_id})
        except (TransientChannelError, PermanentChannelError) as exc:
            log.warning("telegram channel %s: answerCallbackQuery failed: %s", self.name, exc.detail)

    async def _files(self, files: tuple[FileRef, ...]) -> tuple[tuple[Attachment, ...], list[str]]:
        stored: list[Attachment] = []
        notes: list[str] = []
        for ref in files:
            if ref.size is not None and ref.size > self._max_media:
                notes.append(media.omitted(ref.filename, f"larger than {self._max_media} bytes"))
                continue
            try:
                info = await self._api.call("getFile", json={"file_id": ref.file_id})
            except PermanentChannelError as exc:
                notes.append(media.omitted(ref.filename, exc.detail))
                continue
            path = info.get("file_path") if isinstance(info, dict) else None
            if not isinstance(path, str):
                notes.append(media.omitted(ref.filename, "Telegram gave no download path"))
                continue
            try:
                got = await media.download(
                    self.context.http, self._policy, self._api.file_url(path),
                    max_bytes=self._max_media, allowed_types=self._media_types,
                )
            except media.MediaRejected as exc:
                notes.append(media.omitted(ref.filename, exc.detail))
                continue
            content_type = ref.content_type or got.content_type
            if not media.type_allowed(content_type, self._media_types):
                notes.append(media.omitted(ref.filename, f"media of type {content_type} is not stored"))
                continue
            stored.append(Attachment(filename=ref.filename[:255], content_type=content_type, content=got.content))
        return tuple(stored), notes

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.thread_key is None:
            raise PermanentChannelError("the conversation has no Telegram chat to answer in")
        chat = chat_of(message.thread_key)
        if message.attachments:
            (item,) = message.attachments  # separate_attachments: one per delivery
            as_photo = item.content_type in PHOTO_TYPES and len(item.content) <= PHOTO_LIMIT
            method, field = ("sendPhoto", "photo") if as_photo else ("sendDocument", "document")
            form = aiohttp.FormData()
            form.add_field("chat_id", chat)
            form.add_field(field, item.content, filename=item.filename, content_type=item.content_type)
            result = await self._api.call(method, form=form)
        else:
            result = await self._api.call("sendMessage", json={"chat_id": chat, "text": message.text})
        sent_id = result.get("message_id") if isinstance(result, dict) else None
        return SendResult(provider_message_id=f"{chat}:{sent_id}" if isinstance(sent_id, int) else None)
