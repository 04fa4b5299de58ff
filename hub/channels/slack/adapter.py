"""The Slack channel: customers in Slack Connect shared channels and direct messages to the app.

Inbound: Slack's Events API posts to ``/webhooks/slack/events``; the signing secret
is checked with slack-sdk's ``SignatureVerifier`` (``v0`` HMAC-SHA256 over
``v0:<timestamp>:<raw body>``, at most 5 minutes old) before anything is parsed.
Each channel serves one workspace (``team_id``, optionally one ``app_id``); several
Slack channels may share the URL. Retried events (``X-Slack-Retry-Num``) whose
``event_id`` was taken are acknowledged without work, and every message is keyed by
channel and ``ts``, so a message is stored once however often it arrives.
Outbound: ``chat.postMessage`` through slack-sdk's ``AsyncWebClient`` in the
conversation's thread; HTTP 429 becomes a ``TransientChannelError`` with Slack's
``Retry-After`` so the outbox waits as long as Slack asks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from hub.channels import media, options
from hub.channels.base import (
    AdapterContext,
    Capabilities,
    ChannelAdapter,
    InboundRequest,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
    WebhookReply,
    WebhookResult,
    WebhookRoute,
)
from hub.channels.slack.parse import (
    Audience,
    SlackFile,
    SlackMessage,
    parse_envelope,
    thread_target,
)
from hub.channels.slack.profiles import ProfileCache
from hub.channels.transport import retry_after, transport_error
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.errors import Unauthorized, ValidationFailed
from hub.messages import Attachment, InboundMessage, OutboundMessage, Sender, ThreadHint
from hub.net import DestinationPolicy
from hub.validation import ensure_storable

log = logging.getLogger(__name__)
# slack-sdk logs request and response bodies at DEBUG; message content never reaches our logs.
_sdk_log = logging.getLogger("hub.channels.slack.sdk")
_sdk_log.setLevel(logging.WARNING)

DEFAULT_API_URL = "https://slack.com/api/"
MAX_SKEW_SECONDS = 300
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackChannel(ChannelAdapter):
    type = "slack"
    webhook_routes = (WebhookRoute("/webhooks/slack/events"),)
    # Slack truncates text past 40,000 characters and advises 4,000: longer replies go in parts.
    capabilities = Capabilities(max_text_length=4000, overflow="split", max_parts=10, edits=True)

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.clock: Callable[[], float] = time.time
        self._verifier = SignatureVerifier(options.required_text(config, "signing_secret"), clock=_Clock(self._now))
        self._token = options.required_text(config, "bot_token")
        self._team_id = options.required_text(config, "team_id")
        self._app_id = options.text(config, "app_id")
        self._policy = DestinationPolicy(context.settings.outbound_allow_networks)
        base_url = options.api_url(config, "api_url", DEFAULT_API_URL, self._policy) + "/"
        self._client = AsyncWebClient(
            token=self._token, base_url=base_url, session=context.http, retry_handlers=[], logger=_sdk_log
        )
        self._audience = Audience(
            team_id=self._team_id,
            shared_channels=options.flag(config, "shared_channels", True),
            customer_channels=frozenset(options.strings(config, "customer_channels")),
        )
        self._link_email = options.flag(config, "link_email", True)
        self._max_media = min(
            options.positive_int(config, "max_media_bytes", context.settings.max_attachment_bytes),
            context.settings.max_attachment_bytes,
        )
        self._media_types = options.strings(config, "media_types") or media.DEFAULT_MEDIA_TYPES
        self._profiles = ProfileCache(self._client)
        self._taken = media.RecentIds()

    def _now(self) -> float:
        return self.clock()

    def verify(self, request: InboundRequest) -> None:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not timestamp or not signature:
            raise Unauthorized("missing X-Slack-Signature or X-Slack-Request-Timestamp")
        if not timestamp.isdigit():
            raise Unauthorized("X-Slack-Request-Timestamp is not a Unix time")
        if abs(self.clock() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Unauthorized("the request is more than 5 minutes old or ahead (a replay?)")
        try:
            valid = self._verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:
            valid = False
        if not valid:
            raise Unauthorized("the Slack signature does not match")

    async def receive(self, request: InboundRequest) -> WebhookResult:
        parsed = parse_envelope(request.body, self._audience)
        if parsed.challenge is not None:
            return WebhookResult(reply=WebhookReply(parsed.challenge.encode(), "text/plain"))
        if parsed.team_id != self._team_id or (self._app_id is not None and parsed.app_id != self._app_id):
            return WebhookResult(foreign=frozenset({f"team {parsed.team_id} app {parsed.app_id}"}))
        event_id = parsed.event_id
        if event_id is not None and event_id in self._taken:
            retry = request.headers.get("X-Slack-Retry-Num", "?")
            return WebhookResult(ignored=(f"retry {retry} of event {event_id}, taken before",))
        messages = [await self._inbound(m) for m in parsed.messages]
        return WebhookResult(
            items=messages,
            ignored=parsed.ignored,
            on_accepted=(lambda: self._taken.add(event_id)) if event_id is not None else None,
        )

    async def _inbound(self, message: SlackMessage) -> InboundMessage:
        profile = await self._profiles.get(message.user)
        found = [identities.platform(f"slack.{message.team_id}", message.user)]
        if self._link_email and profile.email:
            try:
                found.append(identities.email(profile.email))
            except ValidationFailed:
                log.info("slack user %s has an email address the hub cannot use", message.user)
        attachments, notes = await self._files(message.files)
        text = "\n".join([message.text, *notes]) if notes else message.text
        ensure_storable(text=text, name=profile.name)
        return InboundMessage(
            channel=self.name,
            provider_message_id=message.provider_id,
            sender=Sender(identities=tuple(found), name=profile.name),
            text=text,
            thread=ThreadHint(key=message.thread_key, references=message.references),
            attachments=attachments,
            received_at=message.received_at,
            edit_of=message.edit_of,
        )

    async def _files(self, files: tuple[SlackFile, ...]) -> tuple[tuple[Attachment, ...], list[str]]:
        stored: list[Attachment] = []
        notes: list[str] = []
        for item in files:
            name = item.name or item.id
            if item.url_private_download is None:
                notes.append(media.omitted(name, "Slack gave no download link"))
                continue
            if item.size is not None and item.size > self._max_media:
                notes.append(media.omitted(name, f"larger than {self._max_media} bytes"))
                continue
            try:
                got = await media.download(
                    self.context.http, self._policy, item.url_private_download,
                    max_bytes=self._max_media, allowed_types=self._media_types,
                    headers={"Authorization": f"Bearer {self._token}"},
                )
            except media.MediaRejected as exc:
                notes.append(media.omitted(name, exc.detail))
                continue
            stored.append(Attachment(filename=name[:255], content_type=item.mimetype or got.content_type, content=got.content))
        return tuple(stored), notes

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.thread_key is None:
            raise PermanentChannelError("the conversation has no Slack channel to answer in")
        channel, thread_ts = thread_target(message.thread_key)
        try:
            response = await self._client.chat_postMessage(channel=channel, text=message.text, thread_ts=thread_ts)
        except SlackApiError as exc:
            raise _translate(exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "Slack API") from exc
        ts = response.get("ts")
        answered_in = response.get("channel")
        where = answered_in if isinstance(answered_in, str) and answered_in else channel
        return SendResult(provider_message_id=f"{where}:{ts}" if isinstance(ts, str) else None)


def _translate(exc: SlackApiError) -> TransientChannelError | PermanentChannelError:
    response: Any = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    error = response.get("error") if hasattr(response, "get") else None
    detail = f"Slack answered HTTP {status}: {error or 'no error code'}"
    if status == 429 or error == "ratelimited":
        return TransientChannelError(detail, retry_after=retry_after(response.headers.get("Retry-After")))
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientChannelError(detail)
    return PermanentChannelError(detail)
