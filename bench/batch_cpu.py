"""CPU per message of one ingest batch, without HTTP: a steady figure on a busy machine.

    .venv/bin/python bench/batch_cpu.py [--backend sqlite|postgresql] [--batch 32] [--batches 60]

Runs ``ingest_batch`` in its own transaction (``services.transaction()``, events
written and published) for batches of the benchmark's message mix, in this process,
and prints the event-loop thread's CPU time per message: the minimum (the least
disturbed run) and the median. Throughput on a shared 2-core machine swings with
whatever else runs; thread CPU time swings much less, so compare changes to the
batch path with this first, then confirm with ``bench/ingest.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import uvloop

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from databases import CHANNEL, Database  # noqa: E402
from workload import build  # noqa: E402

from hub.bootstrap import build_services, sync_config  # noqa: E402
from hub.channels.api import ApiChannel  # noqa: E402
from hub.channels.base import InboundRequest  # noqa: E402
from hub.config import ChannelConfig, QueueConfig, Settings  # noqa: E402
from hub.db.models import utcnow  # noqa: E402
from hub.inbox.ingest import ingest_batch  # noqa: E402
from hub.messages import InboundMessage  # noqa: E402


class _Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = None


async def measure(url: str, workdir: Path, size: int, batches: int) -> list[float]:
    """Thread CPU seconds per message of each measured batch (the first five warm up)."""
    settings = Settings(
        database_url=url,
        data_dir=workdir / "data",
        secret_key="bench",
        queues=(QueueConfig("support"),),
        channels=(ChannelConfig(type="api", name=CHANNEL, queue="support", options={"token": "bench"}),),
    )
    services = build_services(settings)
    await sync_config(services)
    channel = ApiChannel(settings.channels[0], _Context(settings))
    warm = 5
    messages: list[InboundMessage] = []
    for item in build(size * (batches + warm)):
        parsed = channel.parse_inbound(InboundRequest("POST", "/", {}, {}, item.body, None))
        messages.extend(m for m in parsed if isinstance(m, InboundMessage))
    per_message: list[float] = []
    try:
        for index in range(batches + warm):
            batch = messages[index * size : (index + 1) * size]
            started = time.thread_time()
            async with services.transaction() as unit:
                _results, events = await ingest_batch(
                    unit.session, batch, services.endpoints, services.blobs, utcnow()
                )
                for event in events:
                    unit.emit(event)
            if index >= warm:
                per_message.append((time.thread_time() - started) / len(batch))
    finally:
        await services.engine.dispose()
    return per_message


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batch", type=int, default=32, help="messages per batch")
    parser.add_argument("--batches", type=int, default=60, help="measured batches")
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_BENCH_POSTGRES_URL",
                        "postgresql+asyncpg://127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hub-batch-cpu-"))
    database = Database(args.backend, workdir, args.postgres_url)
    try:
        database.create()
        cpu = uvloop.run(measure(database.url, workdir, args.batch, args.batches))
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{args.backend}: batches of {args.batch}, event-loop CPU per message: "
        f"min {min(cpu) * 1e6:.0f} us, median {statistics.median(cpu) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
