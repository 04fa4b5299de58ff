"""Provider webhooks: one pipeline behind every provider's route.

For each request: find the channels it may be for, let each adapter ``verify()`` the
raw bytes (nothing is parsed before one of them accepts the signature; none → its
401/403), let every adapter that accepted it ``receive()`` what is addressed to it
(several channels of one provider may share a secret: each takes its own team,
page or number and names the rest ``foreign``), ingest the messages (idempotent on
the provider's message id, so a retried delivery stores nothing twice), apply the
status reports, log what was acknowledged without use, and answer 200 — or the
body the provider asked for (a verification challenge).

Each adapter type declares its routes (``ChannelAdapter.webhook_routes``): either
every channel of the type is a candidate (one URL per provider app), or the path's
``{name}`` names the one channel (one URL per bot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from hub.api.channels import inbound_request
from hub.api.keys import ADAPTERS, INBOX, SERVICES
from hub.channels.base import ChannelAdapter, InboundRequest, WebhookResult, WebhookRoute
from hub.errors import Forbidden, HubError, NotFound, Unauthorized
from hub.inbox.statuses import apply_status_event
from hub.messages import InboundMessage, StatusEvent

log = logging.getLogger(__name__)


def channels_of_type(request: web.Request, channel_type: str) -> list[ChannelAdapter]:
    """Every configured channel of ``channel_type``; 404 when there is none."""
    found = [a for a in request.app[ADAPTERS].values() if a.type == channel_type]
    if not found:
        raise NotFound(f"no {channel_type} channel is configured")
    return found


def verified(candidates: Sequence[ChannelAdapter], raw: InboundRequest) -> list[ChannelAdapter]:
    """The candidates whose secret the request carries; the first refusal when none does."""
    accepted: list[ChannelAdapter] = []
    refusal: HubError | None = None
    for adapter in candidates:
        try:
            adapter.verify(raw)
        except (Unauthorized, Forbidden) as exc:
            refusal = refusal or exc
        else:
            accepted.append(adapter)
    if not accepted:
        assert refusal is not None
        log.warning("webhook %s refused: %s", raw.path.split("?")[0], refusal.detail)
        raise refusal
    return accepted


async def receive_webhook(request: web.Request, candidates: Sequence[ChannelAdapter]) -> web.Response:
    """Verify, parse, ingest and acknowledge one provider request for ``candidates``."""
    raw = await inbound_request(request)
    accepted = verified(candidates, raw)
    results = [await adapter.receive(raw) for adapter in accepted]
    for adapter, result in zip(accepted, results, strict=True):
        await _apply(request, adapter, result)
    unserved = frozenset.intersection(*(r.foreign for r in results))
    if unserved:
        log.warning("webhook %s: no configured channel serves %s; acknowledged", raw.path, ", ".join(sorted(unserved)))
    reply = next((r.reply for r in results if r.reply is not None), None)
    if reply is not None:
        return web.Response(body=reply.body, status=reply.status, content_type=reply.content_type)
    return web.Response(status=200)


async def _apply(request: web.Request, adapter: ChannelAdapter, result: WebhookResult) -> None:
    messages = [item for item in result.items if isinstance(item, InboundMessage)]
    statuses = [item for item in result.items if isinstance(item, StatusEvent)]
    inbox = request.app[INBOX]
    stored = await asyncio.gather(*(inbox.ingest(message) for message in messages))
    services = request.app[SERVICES]
    moved = 0
    for status in statuses:
        moved += await apply_status_event(services, status)
    for what in result.ignored:
        log.info("webhook %s: %s acknowledged and ignored", adapter.name, what)
    if messages or statuses:
        duplicates = sum(1 for r in stored if r.duplicate)
        log.info(
            "webhook %s: %d messages (%d already stored), %d status reports (%d applied)",
            adapter.name, len(messages), duplicates, len(statuses), moved,
        )
    if result.on_accepted is not None:
        result.on_accepted()


def add_webhook_routes(app: web.Application, adapter_types: Mapping[str, type[ChannelAdapter]]) -> None:
    """Add the routes every adapter type declares (``ChannelAdapter.webhook_routes``)."""
    for channel_type, adapter_cls in sorted(adapter_types.items()):
        for route in adapter_cls.webhook_routes:
            handler = _handler(channel_type, route)
            for method in route.methods:
                app.router.add_route(method, route.path, handler)


def _handler(channel_type: str, route: WebhookRoute) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        if route.by_name:
            name = request.match_info["name"]
            adapter = request.app[ADAPTERS].get(name)
            if adapter is None or adapter.type != channel_type:
                raise NotFound(f"no {channel_type} channel named {name!r}")
            return await receive_webhook(request, [adapter])
        return await receive_webhook(request, channels_of_type(request, channel_type))

    return handle
