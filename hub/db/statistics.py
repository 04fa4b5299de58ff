"""Planner statistics for SQLite: ``ANALYZE`` of the inbox's tables every six hours.

PostgreSQL's autovacuum keeps its statistics current; SQLite has none until ANALYZE
runs, and without them it plans an agent's inbox (``queue_id IN (...) ORDER BY
last_message_at``) as an index search plus a sort of every matching row instead of
one ordered index scan: 0.8 ms against 700 ms with 100,000 conversations
(bench/inbox_ui.py). A sampled ANALYZE (``analysis_limit``) is not enough: it caps
the rows per value at the sample size and so makes ``queue_id`` look selective. A
full ANALYZE of these tables takes about 0.3 s per 100,000 conversations. The round
due at start is skipped: a starting hub (or a test's) should not hold the write lock
while routing and ingest begin; the first ANALYZE comes after ``interval``.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from hub.inbox.periodic import Periodic
from hub.services import Services

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 6 * 3600.0
# The tables whose plans depend on the data's shape (the inbox list and its lookups).
TABLES = ("conversations", "conversation_tags", "contact_identities", "routing_sla")


class SqliteStatistics(Periodic):
    """Refreshes SQLite's planner statistics; does nothing on PostgreSQL."""

    def __init__(self, services: Services, *, interval: float = INTERVAL_SECONDS) -> None:
        self.services = services
        self._started = False
        super().__init__("sqlite-statistics", self._round, interval)

    async def _round(self) -> None:
        if not self._started:
            self._started = True  # the round at start
            return
        await self.analyze()

    async def analyze(self) -> None:
        """One round: ANALYZE each of ``TABLES`` (SQLite only)."""
        if self.services.dialect != "sqlite":
            return
        async with self.services.engine.begin() as conn:
            for table in TABLES:
                await conn.execute(text(f"ANALYZE {table}"))
        log.debug("sqlite statistics refreshed")
