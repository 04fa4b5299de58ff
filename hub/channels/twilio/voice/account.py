"""The voice channel's Twilio account: webhook signatures, the Calls API, recording downloads.

Built on the pieces the Twilio channels share (``hub.channels.twilio.account``,
``signature``, ``rest``): one auth token checks Twilio's requests and authenticates the
hub's. Recordings are fetched with the account's credentials from Twilio's hosts only
(``media_url_allowed``), every redirect checked again.
"""

from __future__ import annotations

import base64
from datetime import datetime

from hub.channels import media
from hub.channels.base import AdapterContext, InboundRequest
from hub.channels.twilio.account import TwilioAccount, account_from_config, media_url_allowed
from hub.channels.twilio.rest import TwilioApiError, TwilioRest
from hub.channels.twilio.signature import WebhookSignature
from hub.config import ChannelConfig
from hub.net import DestinationPolicy


class VoiceAccount:
    """One channel's account: ``verify`` webhooks, ``update_call``, ``fetch_call``, ``download`` recordings."""

    def __init__(self, account: TwilioAccount, context: AdapterContext, policy: DestinationPolicy) -> None:
        self.account = account
        self._context = context
        self._policy = policy
        self._signature = WebhookSignature(account.auth_token, context.settings.public_url)
        self._rest = TwilioRest(context.http, account, policy)

    @classmethod
    def from_config(cls, config: ChannelConfig, context: AdapterContext) -> VoiceAccount:
        policy = DestinationPolicy(context.settings.outbound_allow_networks)
        return cls(account_from_config(config, policy), context, policy)

    def verify(self, request: InboundRequest) -> None:
        """403 unless Twilio signed this request with the account's auth token."""
        self._signature.verify(request)

    async def update_call(self, call_sid: str, *, twiml: str) -> None:
        """Give a live call new TwiML (``POST /Calls/{CallSid}.json`` with ``Twiml``)."""
        await self._rest.run("call update", self._rest.api.calls(call_sid).update_async(twiml=twiml))

    async def fetch_call(self, call_sid: str) -> tuple[str, datetime | None] | None:
        """The call's status and end time (``GET /Calls/{CallSid}.json``); None when Twilio does not know it."""
        try:
            call = await self._rest.run("call fetch", self._rest.api.calls(call_sid).fetch_async())
        except TwilioApiError as exc:
            if exc.http_status == 404:
                return None
            raise
        return str(call.status or ""), call.end_time

    async def download(self, url: str, *, max_bytes: int, allowed_types: tuple[str, ...]) -> media.Media:
        """A recording's audio, with the account's credentials, from Twilio's hosts only."""
        credentials = f"{self.account.account_sid}:{self.account.auth_token}".encode()
        return await media.download(
            self._context.http, self._policy, url, max_bytes=max_bytes, allowed_types=allowed_types,
            headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
            allow_url=lambda candidate: media_url_allowed(self.account, candidate),
        )
