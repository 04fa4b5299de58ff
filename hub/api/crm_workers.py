"""Lifecycles of the customer record's background work, for the app's ``cleanup_ctx``.

The connector runner (outgoing webhooks and configured connectors) starts after the
HTTP client and stops before it; retention runs daily.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.api.keys import HTTP, SERVICES
from hub.crm_link.connectors.registry import build_connectors
from hub.crm_link.connectors.runner import ConnectorRunner
from hub.crm_link.connectors.webhooks import WebhookOptions, WebhookSender
from hub.crm_link.retention import RetentionSettings, claim_day, next_run, run_retention
from hub.db.models import utcnow
from hub.services import Services

log = logging.getLogger(__name__)

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
    task = asyncio.create_task(_daily(services, settings), name="retention")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _daily(services: Services, settings: RetentionSettings) -> None:
    while (due := next_run(settings, utcnow())) is not None:
        await asyncio.sleep(max(0.0, (due - utcnow()).total_seconds()))
        try:
            if await claim_day(services, due):
                report = await run_retention(services, settings, dry_run=False, now=due)
                log.info("retention ran: %s", report.summary())
        except Exception:
            log.exception("retention run failed; it runs again tomorrow")
