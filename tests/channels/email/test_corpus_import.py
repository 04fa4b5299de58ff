"""Every mail of the shared corpus goes through a real mailbox: imported, reported, or quarantined."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from hub.api.keys import ADAPTERS
from hub.db.models import QuarantinedItem
from tests.channels.email.conftest import CHANNEL, FIXTURES_DIR, HubFactory, OtherClient, eventually
from tests.factories import services_of


def corpus() -> list[Path]:
    root = FIXTURES_DIR / "corpus"
    # An IMAP server stores no zero-byte message, so those few never reach a mailbox.
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SOURCES.md" and p.stat().st_size)


async def test_the_whole_corpus_is_handled_without_an_unhandled_error(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    files = corpus()
    for path in files:
        await other_client.append(path.read_bytes())
    client = await email_hub(fetch_batch=40)
    adapter = client.app[ADAPTERS][CHANNEL]

    def handled() -> int:
        counts = adapter.status()["folders"].get("INBOX", {}).get("counts", {})
        return sum(counts.values())

    async def all_handled() -> bool:
        return handled() >= len(files)

    await eventually(all_handled, 120, "every corpus mail to be handled")
    folder = adapter.status()["folders"]["INBOX"]
    assert folder["last_error"] is None and folder["pending_retries"] == 0
    counts = folder["counts"]
    # Test suites reuse mails: the DKIM vectors are one mail in several spellings, and
    # CPython's samples share their headers; those count as the same mail (duplicate).
    assert set(counts) == {"imported", "duplicate", "quarantined"}, counts
    assert sum(counts.values()) == len(files) and counts["imported"] > 100, counts
    async with services_of(client).sessions() as session:
        reasons = dict((await session.execute(select(QuarantinedItem.reason, func.count()).group_by(QuarantinedItem.reason))).all())
    assert set(reasons) <= {"no_headers", "no_sender", "empty", "mime"}, reasons
    assert sum(reasons.values()) == counts["quarantined"]
