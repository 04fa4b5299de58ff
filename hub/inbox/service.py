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

    def __init__(self, services: Services, *, max_batch: int = 256, workers: int = 1) -> None:
        # One commit worker on both databases: SQLite has one writer anyway, and on
        # PostgreSQL a second worker halves the batches, which costs more event-loop
        # time per message than the overlap of two transactions saves (bench/RESULTS.md).
        self.services = services
        self._committer: GroupCommitter[InboundMessage, IngestResult] = GroupCommitter(
            self._run_batch, max_batch=max_batch, workers=workers, partition=_sender_partition
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


def _sender_partition(message: InboundMessage) -> int:
    """One sender's messages share a commit worker: their batches never race for one contact."""
    return hash(message.sender.identities[0].address)
