"""The daily retention run: once per UTC day, in one hub process, also after a missed ``run_at``.

Every hub process runs this loop. At ``run_at`` (and at start-up, when today's
``run_at`` has passed) it tries to claim the day (``claim_day``: a guarded UPDATE of
one row, so with several processes on one database exactly one wins) and the winner
runs the policies. A hub that was down at ``run_at`` therefore catches up when it
starts, instead of skipping the day. A database that never had a daily run starts
counting from its first start (``remember_start``): a fresh installation does not
delete anything at once, it waits for the next ``run_at``. A run that fails is
logged; the next one is the next day's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from hub.crm_link.retention import (
    DAILY,
    RetentionReport,
    RetentionSettings,
    claim_day,
    next_run,
    run_retention,
)
from hub.db.models import ConnectorCursor, utcnow
from hub.db.upsert import insert_ignore
from hub.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[object]]


def due_today(settings: RetentionSettings, now: datetime) -> bool:
    """True once today's ``run_at`` has come (UTC)."""
    if settings.run_at is None:
        return False
    return now >= datetime.combine(now.date(), settings.run_at, tzinfo=now.tzinfo)


async def remember_start(services: Services, settings: RetentionSettings, now: datetime) -> None:
    """On a database without daily runs yet, count today's run as done once its time has passed."""
    last = now.date() if due_today(settings, now) else now.date() - timedelta(days=1)
    async with services.sessions() as session, session.begin():
        await insert_ignore(
            session, ConnectorCursor, [{"name": DAILY, "last_event_id": last.toordinal(), "updated_at": now}]
        )


async def run_if_due(services: Services, settings: RetentionSettings, now: datetime) -> RetentionReport | None:
    """Run the policies when today's run is due and this process claims it; the report, or None."""
    if not due_today(settings, now) or not await claim_day(services, now):
        return None
    report = await run_retention(services, settings, dry_run=False, now=now)
    log.info("retention ran: %s", report.summary())
    return report


async def daily_retention(
    services: Services, settings: RetentionSettings, *, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep
) -> None:
    """Run retention every day until cancelled (returns at once when ``run_at`` is off)."""
    started = False
    while settings.run_at is not None:
        try:
            if not started:
                await remember_start(services, settings, clock())
                started = True
            await run_if_due(services, settings, clock())
        except Exception:
            log.exception("retention run failed; it runs again tomorrow")
        now = clock()
        due = next_run(settings, now)
        assert due is not None
        await sleep(max(0.0, (due - now).total_seconds()))
