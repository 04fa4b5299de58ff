"""The customer's website while ``hub demo`` seeds: it posts messages and receives replies.

Customer messages are parsed and verified by the real API channel adapter, exactly
as if the website had POSTed them. Replies leave through the real outbox dispatcher
and adapter to a small receiver on loopback that checks their HMAC signature, so the
seeded replies end up ``sent`` instead of waiting for a callback the demo
configuration does not have.
"""

from __future__ import annotations

import hmac
import itertools
import json
import secrets
import time
from dataclasses import replace
from datetime import datetime
from types import TracebackType

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from hub.channels.base import AdapterContext, ChannelAdapter, InboundRequest
from hub.channels.registry import build_adapter
from hub.config import ChannelConfig
from hub.db.models import utcnow
from hub.inbox.outbox import Dispatcher
from hub.inbox.statuses import apply_status_event
from hub.messages import InboundMessage, StatusEvent
from hub.net import DestinationPolicy, create_http_session
from hub.services import Services
from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

LOOPBACK = "127.0.0.1"
MAX_SKEW_SECONDS = 300


class DemoSite:
    """Use as ``async with DemoSite(services) as site``; ``site.adapters`` can send."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.adapters: dict[str, ChannelAdapter] = {}
        self._secret = secrets.token_hex(16)
        self._ids = itertools.count(1)
        self._clock = utcnow()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._dispatcher: Dispatcher | None = None

    async def __aenter__(self) -> DemoSite:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/replies/{channel}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, LOOPBACK, 0).start()
        port = self._runner.addresses[0][1]
        settings = self.services.settings
        settings = replace(settings, outbound_allow_networks=(*settings.outbound_allow_networks, f"{LOOPBACK}/32"))
        self._http = create_http_session(DestinationPolicy(settings.outbound_allow_networks))
        context = AdapterContext(settings=settings, http=self._http, ingest=self._refuse, report_status=self._status)
        for channel in settings.channels:
            if channel.type != "api":
                continue
            options = {
                **channel.options,
                "callback_url": f"http://{LOOPBACK}:{port}/replies/{channel.name}",
                "callback_secret": self._secret,
            }
            adapter = build_adapter(replace(channel, options=options), context)
            await adapter.start()
            self.adapters[channel.name] = adapter
        self._dispatcher = Dispatcher(self.services, self.adapters, clock=lambda: self._clock)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def customer_message(self, channel: ChannelConfig, body: dict[str, object]) -> InboundMessage:
        """``body`` as the website POSTs it, verified and parsed by the channel's adapter."""
        adapter = self.adapters[channel.name]
        headers = CIMultiDict({"Authorization": f"Bearer {channel.require('token')}", "Content-Type": "application/json"})
        request = InboundRequest(
            method="POST",
            path=f"/api/v1/channels/{channel.name}/messages",
            query={},
            headers=CIMultiDictProxy(headers),
            body=json.dumps(body).encode(),
            remote=LOOPBACK,
        )
        adapter.verify(request)
        (message,) = adapter.parse_inbound(request)
        assert isinstance(message, InboundMessage)
        return message

    async def deliver(self, at: datetime) -> None:
        """Send every queued reply now, as if the clock read ``at``."""
        assert self._dispatcher is not None, "use DemoSite as an async context manager"
        self._clock = at
        while await self._dispatcher.run_once():
            pass

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            timestamp = int(request.headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            return web.json_response({"error": "no timestamp"}, status=400)
        expected = sign(self._secret.encode(), timestamp, body)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if abs(time.time() - timestamp) > MAX_SKEW_SECONDS or not hmac.compare_digest(signature, expected):
            return web.json_response({"error": "bad signature"}, status=401)
        return web.json_response({"id": f"reply-{next(self._ids)}"})

    async def _refuse(self, message: InboundMessage) -> object:
        raise RuntimeError("the demo ingests customer messages itself")

    async def _status(self, event: StatusEvent) -> None:
        await apply_status_event(self.services, event)
