"""The inbox's entry for inbound messages: validation of the endpoint, then group commit."""

from __future__ import annotations

from collections.abc import Sequence

from hub.db.models import utcnow
from hub.inbox.batcher import GroupCommitter
from hub.inbox.ingest import IngestResult, ingest_batch
from hub.messages import InboundMessage
from hub.services import Services


class Inbox:
    """Ingests normalized messages; concurrent callers share commits."""

    def __init__(self, services: Services, *, max_batch: int = 256) -> None:
        self.services = services
        workers = 1 if services.dialect == "sqlite" else 2  # SQLite has one writer anyway
        self._committer: GroupCommitter[InboundMessage, IngestResult] = GroupCommitter(
            self._run_batch, max_batch=max_batch, workers=workers
        )

    async def start(self) -> None:
        await self._committer.start()

    async def aclose(self) -> None:
        await self._committer.aclose()

    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store ``message`` (or find its earlier copy); returns once committed and published."""
        self.services.endpoint(message.channel)
        return await self._committer.submit(message)

    async def _run_batch(self, messages: Sequence[InboundMessage]) -> list[IngestResult]:
        async with self.services.transaction() as unit:
            results, events = await ingest_batch(
                unit.session, messages, self.services.endpoints, self.services.blobs, utcnow()
            )
            for event in events:
                unit.emit(event)
        return results
