"""Customer record at scale: identity lookup, export and erasure with a million contacts.

    flock /tmp/hub-bench.lock .venv/bin/python bench/contacts.py [--backend sqlite|postgresql]
        [--contacts 1000000] [--messages 10000] [--lookups 20000] [--fresh] [--json]

With ``--contacts`` contacts of three identities each (email, phone, platform id;
``bench/contacts_data.py``, cached between runs), measures:

- **lookup**: the statement the ingest path resolves a sender's identity with
  (``hub.inbox.ingest_sql`` ``find_identities``, as ``_resolve_contacts`` runs it), for
  identities drawn at random from all contacts, in one open session as in an ingest
  batch; also misses (new senders) and with a session per lookup. Target p99 < 2 ms.
- **export**: ``export_contact`` (what ``GET /api/v1/contacts/{id}/export`` runs: every
  row of the record as JSON, attachments, the ZIP) of a contact with ``--messages``
  messages. Target < 2 s.
- **erasure**: ``preview_erasure`` and ``erase_contact`` of that contact. Target < 5 s.
- **retention** (no target in the issue): the dry run, then the real run, of a policy
  that deletes that contact's conversations (now resolved) with their messages and
  attachments; the two must list the same conversations.

Every contact of the cached database has one conversation, message and timeline
entry of its own (``bench/contacts_data.py``), so deletes that a foreign key without
an index would make scan those tables show up here.

The contact is built for each run through ``ingest_batch`` (the real ingest, in
batches of 250): its messages in 100 conversations, 5 % with an attachment, 10 % with
HTML and a subject, plus 50 calls and 4 consents on its timeline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from contacts_data import HISTORY_CHANNEL, ContactsDatabase, email_of, identities_of  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from hub.auth.principal import Principal, Role  # noqa: E402
from hub.bootstrap import build_services, sync_config  # noqa: E402
from hub.config import ChannelConfig, QueueConfig, Settings  # noqa: E402
from hub.crm_link import identities  # noqa: E402
from hub.crm_link.consent import record_consent  # noqa: E402
from hub.crm_link.erasure import erase_contact, preview_erasure  # noqa: E402
from hub.crm_link.export import export_contact  # noqa: E402
from hub.crm_link.retention import ConversationPolicy, RetentionSettings, run_retention  # noqa: E402
from hub.crm_link.timeline import append_timeline  # noqa: E402
from hub.db.models import ContactIdentity, Conversation, Message, User, utcnow  # noqa: E402
from hub.inbox.ingest import ingest_batch  # noqa: E402
from hub.inbox.ingest_sql import statements  # noqa: E402
from hub.messages import Attachment, InboundMessage, Sender, ThreadHint  # noqa: E402
from hub.services import Services  # noqa: E402

CHANNEL = "bench"
INGEST_BATCH = 250
TARGETS = {"lookup_p99_ms": 2.0, "export_s": 2.0, "erasure_s": 5.0}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": ordered[-1] * 1000}


async def build_contact(services: Services, run: str, messages: int) -> tuple[int, Principal, float]:
    """The run's own contact with ``messages`` messages, its calls and consents; (id, admin, seconds)."""
    started = time.perf_counter()
    async with services.sessions() as session, session.begin():
        admin = User(email=f"dpo-{run}@bench.example", name="DPO", role="admin")
        session.add(admin)
        await session.flush()
        principal = Principal(admin.id, admin.email, admin.name, Role.ADMIN, frozenset(), "token")
    sender = Sender(
        (identities.email(f"target-{run}@kunde.example"), identities.phone(f"+4930{int(run, 16) % 10**8:08d}"),
         identities.platform("webchat", f"target-{run}")),
        name=f"Zielperson {run}",
    )
    contact_id = 0
    for start in range(0, messages, INGEST_BATCH):
        batch = [
            InboundMessage(
                channel=CHANNEL,
                provider_message_id=f"{run}-{n}",
                sender=sender,
                text=f"Nachricht {n} von Zielperson {run}: Bestellung {n * 7919 % 100000} " + "Lorem ipsum " * 20,
                html=f"<p>Nachricht <b>{n}</b></p>" if n % 10 == 0 else None,
                subject=f"Anfrage {n}" if n % 10 == 0 else None,
                thread=ThreadHint(key=f"{run}-t{n // max(1, messages // 100)}", join_open=False),
                attachments=(Attachment(f"beleg-{n}.pdf", "application/pdf", os.urandom(8192)),) if n % 20 == 0 else (),
            )
            for n in range(start, min(messages, start + INGEST_BATCH))
        ]
        async with services.transaction() as unit:
            results, events = await ingest_batch(unit.session, batch, services.endpoints, services.blobs, utcnow())
            for event in events:
                unit.emit(event)
        contact_id = results[0].contact_id
    async with services.transaction() as unit:
        conversation_ids = (
            await unit.session.scalars(select(Conversation.id).where(Conversation.contact_id == contact_id))
        ).all()
        for n in range(50):
            await append_timeline(
                unit.session, contact_id, "call", conversation_id=conversation_ids[n % len(conversation_ids)],
                data={"direction": "in", "duration_seconds": 60 + n, "wait_seconds": 5},
            )
        for purpose, channel in (("service", "email"), ("marketing", "email"), ("marketing", "sms"), ("service", "sms")):
            await record_consent(unit, contact_id, purpose, channel, True, "web_form", "v3", {"ip": "198.51.100.7"})
    if services.dialect == "postgresql":
        async with services.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE"))
    return contact_id, principal, time.perf_counter() - started


async def lookups(services: Services, contacts: int, count: int, seed: int) -> dict[str, Any]:
    """Time the ingest path's identity lookup: hits, misses, and with a session each."""
    rng = random.Random(seed)
    sql = statements(services.engine.dialect)
    hits = [(i, identities_of(i)[rng.randrange(3)]) for i in (rng.randrange(1, contacts + 1) for _ in range(count))]
    misses = [("email", email_of(contacts + 10_000_000 + j)) for j in range(count // 5)]
    warm = hits[: min(1000, count // 10)]
    timed: dict[str, list[float]] = {"hit": [], "hit, CPU": [], "miss": [], "hit, own session": []}
    cpu_started = time.process_time()
    async with services.sessions() as session:
        for expected, (kind, address) in warm + hits:
            started, cpu_before = time.perf_counter(), time.process_time()
            rows = (await session.execute(sql.find_identities, {"kinds": [kind], "addresses": [address]})).all()
            timed["hit"].append(time.perf_counter() - started)
            timed["hit, CPU"].append(time.process_time() - cpu_before)
            if [row[3] for row in rows] != [expected]:
                raise SystemExit(f"lookup of {kind} {address} found {rows}, not contact {expected}")
        cpu = (time.process_time() - cpu_started) / len(warm + hits)
        for kind, address in misses:
            started = time.perf_counter()
            rows = (await session.execute(sql.find_identities, {"kinds": [kind], "addresses": [address]})).all()
            timed["miss"].append(time.perf_counter() - started)
            if rows:
                raise SystemExit(f"lookup of unknown {address} found {rows}")
    for _expected, (kind, address) in hits[: count // 4]:
        started = time.perf_counter()
        async with services.sessions() as session:
            await session.execute(sql.find_identities, {"kinds": [kind], "addresses": [address]})
        timed["hit, own session"].append(time.perf_counter() - started)
    del timed["hit"][: len(warm)], timed["hit, CPU"][: len(warm)]
    result: dict[str, Any] = {name: percentiles(samples) for name, samples in timed.items()}
    result["cpu_per_hit_ms"] = cpu * 1000
    return result


async def export_and_erase(services: Services, contact_id: int, principal: Principal, repeat: int) -> dict[str, Any]:
    exports, export_cpu = [], []
    size = 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        archive = await export_contact(services, principal, contact_id)
        exports.append(time.perf_counter() - started)
        export_cpu.append(time.process_time() - cpu)
        size = archive.size
        archive.file.close()
    async with services.sessions() as session:
        conversations = select(Conversation.id).where(Conversation.contact_id == contact_id)
        held = int(await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id.in_(conversations))) or 0)
    started = time.perf_counter()
    preview = await preview_erasure(services, principal, contact_id)
    previewed = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    report = await erase_contact(services, principal, contact_id)
    erased = time.perf_counter() - started
    erasure_cpu = time.process_time() - cpu
    async with services.sessions() as session:
        left_text = int(await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id.in_(conversations), Message.text.is_not(None), Message.text != "")) or 0)
        left_ids = int(await session.scalar(select(func.count()).select_from(ContactIdentity).where(
            ContactIdentity.contact_id == contact_id)) or 0)
    if left_text or left_ids or report.tables != preview.tables:
        raise SystemExit(f"erasure incomplete: {left_text} message texts, {left_ids} identities left")
    policy = RetentionSettings(run_at=None, idempotency_key_days=0,
                               conversations=(ConversationPolicy("bench", 1, channels=(CHANNEL,)),))
    later = utcnow() + timedelta(days=2)
    started = time.perf_counter()
    dry = await run_retention(services, policy, dry_run=True, now=later)
    planned = time.perf_counter() - started
    started = time.perf_counter()
    real = await run_retention(services, policy, dry_run=False, now=later)
    deleted = time.perf_counter() - started
    async with services.sessions() as session:
        left_messages = int(await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id.in_(conversations))) or 0)
    if dry.conversations != real.conversations or left_messages or len(real.conversations["bench"]) != 100:
        raise SystemExit(f"retention: planned {dry.summary()}, deleted {real.summary()}, {left_messages} messages left")
    return {
        "messages": held,
        "export_s": exports,
        "export_cpu_s": export_cpu,
        "export_mb": size / 1e6,
        "preview_s": previewed,
        "erasure_s": erased,
        "erasure_cpu_s": erasure_cpu,
        "erased_rows": {t: e["rows"] for t, e in report.tables.items() if e["rows"]},
        "blobs_deleted": report.blobs,
        "database_compacted": report.database_compacted,
        "retention_dry_run_s": planned,
        "retention_s": deleted,
        "retention_deleted": {"conversations": len(real.conversations["bench"]), "messages": held, "files": real.blobs},
    }


async def measure(url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench",
        queues=(QueueConfig("support"),),
        channels=(
            ChannelConfig(type="api", name=HISTORY_CHANNEL, queue="support", options={"token": "history"}),
            ChannelConfig(type="api", name=CHANNEL, queue="support", options={"token": "bench"}),
        ),
    )
    services = build_services(settings)
    try:
        await sync_config(services)
        run = uuid.uuid4().hex[:8]
        contact_id, principal, built = await build_contact(services, run, args.messages)
        result: dict[str, Any] = {"contact_built_s": built}
        result["load_before_lookups"] = os.getloadavg()
        result["lookup"] = await lookups(services, args.contacts, args.lookups, args.seed)
        result["load_before_export"] = os.getloadavg()
        result.update(await export_and_erase(services, contact_id, principal, args.exports))
        return result
    finally:
        await services.engine.dispose()


def report(args: argparse.Namespace, built: bool, prepared: float, result: dict[str, Any]) -> None:
    lookup = result["lookup"]
    print(f"contacts benchmark, {args.backend}, started {result['started']:%Y-%m-%d %H:%M} UTC, "
          f"load average {' '.join(f'{x:.2f}' for x in result['load_start'])} at start")
    print(f"database: {args.contacts:,} contacts, {3 * args.contacts:,} identities, "
          f"{'built' if built else 'reused from the cache'} in {prepared:.1f} s; "
          f"the run's contact ({result['messages']:,} messages) ingested in {result['contact_built_s']:.1f} s")
    print(f"lookup (load {' '.join(f'{x:.2f}' for x in result['load_before_lookups'])}):")
    for name in ("hit", "hit, CPU", "miss", "hit, own session"):
        f = lookup[name]
        print(f"  {name:17} n={f['n']:6}  p50 {f['p50_ms']:.3f}  p95 {f['p95_ms']:.3f}  "
              f"p99 {f['p99_ms']:.3f}  max {f['max_ms']:.1f} ms")
    print(f"  process CPU per hit: {lookup['cpu_per_hit_ms']:.3f} ms on average (\"hit, CPU\": this process's"
          " CPU time per lookup, all its threads; the wall clock less the waits for a core)")
    print(f"export (load {' '.join(f'{x:.2f}' for x in result['load_before_export'])}): "
          f"{', '.join(f'{s:.2f}' for s in result['export_s'])} s, {result['export_mb']:.1f} MB ZIP; "
          f"CPU of this process {', '.join(f'{s:.2f}' for s in result['export_cpu_s'])} s")
    print(f"erasure: preview {result['preview_s']:.2f} s, erasure {result['erasure_s']:.2f} s "
          f"(CPU of this process {result['erasure_cpu_s']:.2f} s) "
          f"({result['blobs_deleted']} files; compacted: {result['database_compacted']}); rows {result['erased_rows']}")
    print(f"retention: dry run {result['retention_dry_run_s']:.2f} s, run {result['retention_s']:.2f} s, "
          f"deleted {result['retention_deleted']} (the same conversations as the dry run listed)")
    verdicts = {
        "lookup p99 < 2 ms": lookup["hit"]["p99_ms"] < TARGETS["lookup_p99_ms"],
        "export < 2 s": max(result["export_s"]) < TARGETS["export_s"],
        "erasure < 5 s": result["erasure_s"] < TARGETS["erasure_s"],
    }
    print("targets: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts.items()))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000, help="messages of the exported and erased contact")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--exports", type=int, default=3, help="timed exports of the contact")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached database")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_BENCH_POSTGRES_URL",
                        "postgresql+asyncpg://127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args()
    load_start = os.getloadavg()
    started = datetime.now(UTC)
    database = ContactsDatabase(args.backend, args.contacts, args.postgres_url)
    built, prepared = database.prepare(fresh=args.fresh)
    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-contacts-"))
    try:
        result = uvloop.run(measure(database.url, data_dir, args))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    result["load_start"] = load_start
    result["started"] = started
    if args.json:
        print(json.dumps({"args": vars(args), "built": built, "prepared_s": prepared, **result}, indent=1, default=str))
    else:
        report(args, built, prepared, result)


if __name__ == "__main__":
    main()
