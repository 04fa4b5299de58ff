"""Lifecycles of the customer record's background work, for the app's ``cleanup_ctx``.

The connector runner (outgoing webhooks and configured connectors) starts after the
HTTP client and stops before it; retention runs daily (``hub.crm_link.retention_daily``:
in one process per day, catching up at start-up after a missed ``run_at``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.api.keys import HTTP, SERVICES
from hub.crm_link.connectors.registry import build_connectors
from hub.crm_link.connectors.runner import ConnectorRunner
from hub.crm_link.connectors.webhooks import WebhookOptions, WebhookSender
from hub.crm_link.retention import RetentionSettings
from hub.crm_link.retention_daily import daily_retention
from hub.tasks import cancel_and_wait

RUNNER = web.AppKey("connector_runner", ConnectorRunner)


async def connectors(app: web.Application) -> AsyncIterator[None]:
    """Follow the events for webhooks and connectors while the app runs."""
    services = app[SERVICES]
    options = WebhookOptions.from_config(services.settings.crm.get("webhooks", {}))
    sender = WebhookSender(
        services, app[HTTP], max_attempts=options.max_attempts, timeout=options.timeout_seconds
    )
    runner = ConnectorRunner(
        services,
        build_connectors(services, app[HTTP], services.settings.crm.get("connectors", [])),
        pumps=[sender],
        poll_interval=options.poll_seconds,
    )
    app[RUNNER] = runner
    await runner.start()
    yield
    await runner.aclose()


async def retention(app: web.Application) -> AsyncIterator[None]:
    """Run retention once a day at ``[retention] run_at`` (UTC), in one hub process."""
    services = app[SERVICES]
    settings = RetentionSettings.from_config(services.settings.crm.get("retention", {}))
    task = asyncio.create_task(daily_retention(services, settings), name="retention")
    yield
    await cancel_and_wait(task)

