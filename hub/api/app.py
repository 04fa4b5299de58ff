"""The aiohttp application: routes, middleware, and the lifecycles of shared resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.api import (
    agent_phones,
    agents,
    auth,
    call_ringer,
    call_sweeper,
    calls,
    canned_responses,
    channel_admin,
    channels,
    colleagues,
    companies,
    consents,
    contact_record,
    contacts,
    conversation_actions,
    conversation_tags,
    conversation_viewing,
    conversations,
    crm_workers,
    csv_io,
    cti,
    health,
    merges,
    openapi,
    outgoing_webhooks,
    pages,
    preferences,
    privacy,
    queue_day,
    queues,
    routing_config,
    routing_moves,
    saved_views,
    segments,
    timeline,
    ui,
    user_admin,
    wall_pages,
    webchat_agent,
    webhooks,
    widget,
    workers,
    ws,
)
from hub.api.keys import ADAPTERS, HTTP, INBOX, SERVICES
from hub.api.problems import problem_middleware
from hub.bootstrap import build_services, sync_config
from hub.channels.base import ChannelAdapter
from hub.channels.registry import ADAPTERS as ADAPTER_TYPES
from hub.channels.registry import build_adapter
from hub.config import Settings
from hub.inbox.adapter_context import adapter_context
from hub.inbox.service import Inbox
from hub.net import DestinationPolicy, create_http_session
from hub.routing.settings import parse_routing
from hub.services import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, services: Services | None = None) -> web.Application:
    """The hub's HTTP application; resources start and stop with it."""
    parse_routing(settings)  # a mistake in [[queues]] or [routing] stops the start here, with its key
    app = web.Application(middlewares=[problem_middleware], client_max_size=settings.max_body_bytes)
    app[SERVICES] = services or build_services(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_bus)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_inbox)
    app.cleanup_ctx.append(_adapters)
    app.cleanup_ctx.append(workers.outbox_dispatcher)
    app.cleanup_ctx.append(workers.snoozer)
    app.cleanup_ctx.append(workers.quarantine_retention)
    app.cleanup_ctx.append(workers.sqlite_statistics)
    app.cleanup_ctx.append(workers.router)
    app.cleanup_ctx.append(workers.call_wrap_up)
    app.cleanup_ctx.append(workers.call_routing)
    app.cleanup_ctx.append(crm_workers.connectors)
    app.cleanup_ctx.append(crm_workers.retention)
    app.cleanup_ctx.append(auth.login_limit)
    app.router.add_routes(health.routes)
    app.router.add_routes(channels.routes)
    app.router.add_routes(channel_admin.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(ui.routes)
    app.router.add_routes(preferences.routes)
    app.router.add_routes(colleagues.routes)
    app.router.add_routes(saved_views.routes)
    app.router.add_routes(auth.routes)
    app.router.add_routes(conversations.routes)
    app.router.add_routes(conversation_actions.routes)
    app.router.add_routes(calls.routes)
    app.router.add_routes(cti.routes)
    app.router.add_routes(conversation_tags.routes)
    app.router.add_routes(conversation_viewing.routes)
    app.router.add_routes(contacts.routes)
    app.router.add_routes(timeline.routes)
    app.router.add_routes(contact_record.routes)
    app.router.add_routes(merges.routes)
    app.router.add_routes(companies.routes)
    app.router.add_routes(segments.routes)
    app.router.add_routes(outgoing_webhooks.routes)
    app.router.add_routes(csv_io.routes)
    app.router.add_routes(consents.routes)
    app.router.add_routes(privacy.routes)
    app.router.add_routes(queues.routes)
    app.router.add_routes(agent_phones.routes)
    app.router.add_routes(agents.routes)
    app.router.add_routes(routing_moves.routes)
    app.router.add_routes(canned_responses.routes)
    app.router.add_routes(wall_pages.routes)
    app.router.add_routes(queue_day.routes)
    app.router.add_routes(routing_config.routes)
    app.router.add_routes(user_admin.routes)
    app.router.add_routes(openapi.routes)
    webhooks.add_webhook_routes(app, ADAPTER_TYPES)
    app.router.add_routes(webchat_agent.routes)
    ws.setup(app)
    widget.setup(app)
    call_ringer.setup(app)
    call_sweeper.setup(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await sync_config(services)
    yield
    await services.engine.dispose()


async def _bus(app: web.Application) -> AsyncIterator[None]:
    bus = app[SERVICES].bus
    await bus.start()
    yield
    await bus.aclose()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    policy = DestinationPolicy(app[SERVICES].settings.outbound_allow_networks)
    async with create_http_session(policy) as session:
        app[HTTP] = session
        yield


async def _inbox(app: web.Application) -> AsyncIterator[None]:
    inbox = Inbox(app[SERVICES])
    await inbox.start()
    app[INBOX] = inbox
    yield
    await inbox.aclose()  # finishes every accepted message before the database closes


async def _adapters(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    context = adapter_context(services, app[HTTP], app[INBOX])
    adapters: dict[str, ChannelAdapter] = {}
    for config in services.settings.channels:
        adapter = build_adapter(config, context)
        await adapter.start()
        adapters[config.name] = adapter
    app[ADAPTERS] = adapters
    yield
    for adapter in adapters.values():
        await adapter.aclose()
