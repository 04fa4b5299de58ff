"""Email ingest benchmark: a Dovecot mailbox of N varied mails into the inbox, then a restart.

    .venv/bin/python bench/email_ingest.py [--messages 10000] [--backend sqlite|postgresql|both]

For each backend: a throw-away Dovecot (tests/channels/email/dovecot.py) gets a
mailbox filled with ``--messages`` generated mails (plain and HTML, attachments,
charsets, threads of replies, 2,000 senders), written into its maildir. Then
``python -m hub serve`` starts with one email channel on it, and the clock runs until
every mail is a stored message. The hub is stopped (SIGTERM) and started again; once
it has synced the folder again, the number of stored messages must not have moved.
Reported: messages/s (from the hub's start, and from its first to its last stored
message), peak RSS, CPU, and the check: no mail lost, none stored twice.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from email.header import Header
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from databases import CHANNEL, Database  # noqa: E402
from procs import Sampler, free_ports, start_profiler, stop, stop_profiler, wait_healthy  # noqa: E402

from tests.channels.email.dovecot import Dovecot, Mailbox  # noqa: E402

TARGET_PER_SECOND = 400.0
SENDERS = 2000
FIRST = ["Erika", "Jürgen", "Anna", "Max", "Özlem", "Lukas", "Sophie", "Ben", "Marie", "Paul", "Zoë", "Björn"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer"]
WORDS = ["bestellung", "rechnung", "lieferung", "paket", "retoure", "frage", "termin", "vertrag", "kündigung", "adresse", "zahlung", "gutschrift", "artikel", "kundennummer", "danke", "bitte", "dringend", "problem", "fehler", "hilfe", "service", "konto"]


def _text(rng: random.Random, paragraphs: int) -> str:
    return "\n\n".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 60))).capitalize() + "."
        for _ in range(paragraphs)
    )


def _sender(n: int) -> tuple[str, str]:
    rng = random.Random(n)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"kunde{n}@example{n % 7}.de"


def build_mail(index: int, rng: random.Random, sent: list[tuple[int, str]]) -> bytes:
    """One varied customer mail; ``sent`` holds (sender number, Message-ID) of earlier ones."""
    sender_no = rng.randrange(SENDERS)
    headers: list[str] = []
    reply_to: str | None = None
    if sent and rng.random() < 0.3:
        sender_no, reply_to = rng.choice(sent[-500:])
    name, address = _sender(sender_no)
    message_id = f"<bench.{index}.{rng.getrandbits(40):x}@example{sender_no % 7}.de>"
    subject = f"{'AW: ' if reply_to else ''}{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {index}"
    headers += [
        f"From: {Header(name, 'utf-8').encode()} <{address}>",
        "To: Support <support@example.com>",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: Mon, 01 Dec 2025 {index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d} +0100",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if reply_to:
        headers += [f"In-Reply-To: {reply_to}", f"References: {reply_to}"]
    body = _text(rng, rng.randint(1, 6))
    kind = rng.random()
    if kind < 0.55:
        headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"]
        import quopri

        payload = quopri.encodestring(body.encode()).decode()
        raw = "\r\n".join(headers) + "\r\n\r\n" + payload.replace("\n", "\r\n") + "\r\n"
    elif kind < 0.62:
        headers += ["Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: 8bit"]
        raw_bytes = ("\r\n".join(headers) + "\r\n\r\n").encode() + body.replace("\n", "\r\n").encode("latin-1", "replace")
        sent.append((sender_no, message_id))
        return raw_bytes + b"\r\n"
    else:
        boundary = f"b{rng.getrandbits(48):x}"
        html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        parts = [
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(body.encode()).decode().replace("\n", "\r\n"),
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(f"<html><body>{html}<img src='https://t.example/p.gif'></body></html>".encode())
            .decode().replace("\n", "\r\n"),
        ]
        if kind < 0.9:
            headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        else:
            headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            content = rng.randbytes(rng.randint(2_000, 30_000))
            parts.append(
                f'--{boundary}\r\nContent-Type: application/pdf; name="Rechnung-{index}.pdf"\r\n'
                f'Content-Disposition: attachment; filename="Rechnung-{index}.pdf"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(content).decode().replace("\n", "\r\n")
            )
        raw = "\r\n".join(headers) + "\r\n\r\n" + "".join(parts) + f"--{boundary}--\r\n"
    sent.append((sender_no, message_id))
    return raw.encode()


def fill_maildir(mailbox: Mailbox, count: int, seed: int) -> int:
    """Write ``count`` mails into the user's INBOX as maildir files; returns their total size."""
    rng = random.Random(seed)
    new = mailbox.maildir / "new"
    for sub in ("new", "cur", "tmp"):
        (mailbox.maildir / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    sent: list[tuple[int, str]] = []
    now = time.time()
    for index in range(count):
        raw = build_mail(index, rng, sent)
        total += len(raw)
        path = new / f"{int(now) - count + index}.M{index}P1.bench"
        path.write_bytes(raw)
        os.utime(path, (now - count + index, now - count + index))
    for path in [mailbox.maildir, *mailbox.maildir.rglob("*")]:
        shutil.chown(path, "dovecot", "dovecot")
    shutil.chown(mailbox.maildir.parent, "dovecot", "dovecot")
    return total


def config(mailbox: Mailbox) -> str:
    return f"""
[[queues]]
name = "support"

[[channels]]
type = "email"
name = "{CHANNEL}"
queue = "support"
address = "support@example.com"
imap_host = "{mailbox.host}"
imap_port = {mailbox.port}
imap_security = "none"
imap_username = "{mailbox.username}"
imap_password = "{mailbox.password}"
first_sync_days = "all"
fetch_batch = 200
gap_check_seconds = 30
"""


def count_stored(db: Database) -> int:
    if db.backend == "sqlite":
        with sqlite3.connect(db.path) as conn:
            return int(conn.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0])
    return len(db.stored().ids)


def folder_status(db: Database) -> dict[str, Any]:
    query = "SELECT s.data FROM channel_state s JOIN channels c ON c.id = s.channel_id WHERE c.name = ? AND s.key = 'status'"
    if db.backend == "sqlite":
        with sqlite3.connect(db.path) as conn:
            row = conn.execute(query, (CHANNEL,)).fetchone()
        data = json.loads(row[0]) if row else {}
    else:
        import asyncio

        import asyncpg
        from databases import _asyncpg_dsn

        async def fetch() -> Any:
            conn = await asyncpg.connect(_asyncpg_dsn(db.url))
            try:
                return await conn.fetchval(query.replace("?", "$1"), CHANNEL)
            finally:
                await conn.close()

        raw = asyncio.run(fetch())
        data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    folders = data.get("folders", {}) if isinstance(data, dict) else {}
    return dict(folders.get("INBOX", {}))


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live process below it (the parse workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(_cpu_seconds(pid) for pid in tree)


def imap_cpu_seconds() -> float:
    """CPU seconds of Dovecot's imap processes (the server side of the import)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "imap":
                    total += _cpu_seconds(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def start_hub(workdir: Path, env: dict[str, str], port: int, label: str) -> subprocess.Popen[bytes]:
    log = open(workdir / f"hub-{label}.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port), "--log-level", "WARNING"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )
    wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
    return process


def run(backend: str, args: argparse.Namespace, dovecot: Dovecot, workdir: Path) -> dict[str, Any]:
    mailbox = dovecot.add_user()
    size = fill_maildir(mailbox, args.messages, args.seed)
    db = Database(backend, workdir, args.postgres_url)
    db.create()
    try:
        (workdir / "hub.toml").write_text(config(mailbox), encoding="utf-8")
        env = {
            **os.environ, "HUB_CONFIG": str(workdir / "hub.toml"), "HUB_DATABASE_URL": db.url,
            "HUB_DATA_DIR": str(workdir / "data"), "HUB_SECRET_KEY": "bench-secret",
        }
        env.pop("HUB_REDIS_URL", None)
        (port,) = free_ports(1)
        started = time.perf_counter()
        process = start_hub(workdir, env, port, f"{backend}-first")
        healthy = time.perf_counter()
        sampler = Sampler(process.pid)
        sampler.start()
        profiler = start_profiler(Path(args.profile), process.pid, f"email-{backend}") if args.profile else None
        first_at: float | None = None
        stored = 0
        deadline = started + args.timeout
        while stored < args.messages and time.perf_counter() < deadline:
            time.sleep(0.1)
            stored = count_stored(db)
            if stored and first_at is None:
                first_at = time.perf_counter()
        done_at = time.perf_counter()
        hub_cpu = tree_cpu_seconds(process.pid)
        server_cpu = imap_cpu_seconds()
        if profiler is not None:
            stop_profiler(profiler)
        sampler.finish()
        stop(process)
        after_first = count_stored(db)

        restarted = time.perf_counter()
        process = start_hub(workdir, env, port, f"{backend}-restart")
        synced = False
        while time.perf_counter() - restarted < 60:
            time.sleep(0.2)
            status = folder_status(db)
            if status.get("connected") and status.get("last_sync_at") and status.get("last_gap_check_at"):
                synced = True
                break
        time.sleep(1.0)
        after_restart = count_stored(db)
        status = folder_status(db)
        stop(process)
        ids = db.stored().ids
    finally:
        db.drop()
    elapsed = done_at - started
    importing = done_at - (first_at or started)
    return {
        "backend": backend,
        "messages": args.messages,
        "mailbox_mib": round(size / (1 << 20), 1),
        "stored": after_first,
        "seconds_from_start": round(elapsed, 2),
        "msg_per_s_from_start": round(after_first / elapsed, 1) if elapsed else 0.0,
        "seconds_from_healthy": round(done_at - healthy, 2),
        "msg_per_s_from_healthy": round(after_first / (done_at - healthy), 1) if done_at > healthy else 0.0,
        "seconds_importing": round(importing, 2),
        "msg_per_s_importing": round(after_first / importing, 1) if importing else 0.0,
        "peak_rss_mib": round(sampler.peak_rss_mib, 1),
        "hub_cpu_ms_per_mail": round(1000 * hub_cpu / max(1, after_first), 2),
        "imap_server_cpu_ms_per_mail": round(1000 * server_cpu / max(1, after_first), 2),
        "cpu": {k: round(v, 2) for k, v in sampler.window(time.time() - elapsed - 1, time.time()).items()},
        "restart_synced": synced,
        "new_rows_after_restart": after_restart - after_first,
        "lost": args.messages - len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "status_after_restart": {k: status.get(k) for k in ("counts", "gaps", "server_count", "last_error")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--profile", help="record the hub with py-spy into this folder (raw stacks)")
    args = parser.parse_args()
    problem = Dovecot.available()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="hub-bench-mail-", dir="/tmp"))
    root.chmod(0o755)  # Dovecot's own users must traverse it
    dovecot = Dovecot(root / "dovecot")
    dovecot.start()
    results = []
    try:
        for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            workdir = root / backend
            workdir.mkdir()
            results.append(run(backend, args, dovecot, workdir))
    finally:
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    ok = True
    for r in results:
        verdict = "meets" if r["msg_per_s_from_start"] >= TARGET_PER_SECOND else "MISSES"
        clean = r["lost"] == 0 and r["duplicates"] == 0 and r["new_rows_after_restart"] == 0 and r["restart_synced"]
        ok = ok and clean
        print(
            f"{r['backend']:>10}: {r['stored']}/{r['messages']} mails ({r['mailbox_mib']} MiB) in "
            f"{r['seconds_from_start']} s from start = {r['msg_per_s_from_start']}/s, "
            f"{r['msg_per_s_from_healthy']}/s from /healthz, {r['msg_per_s_importing']}/s first to last message "
            f"-> {verdict} the {TARGET_PER_SECOND:.0f}/s target; "
            f"peak RSS {r['peak_rss_mib']} MiB; restart: {r['new_rows_after_restart']} new rows "
            f"(synced: {r['restart_synced']}); lost {r['lost']}, duplicates {r['duplicates']}"
        )
        print(
            f"{'':>12}CPU per mail: hub {r['hub_cpu_ms_per_mail']} ms (with its parse workers), "
            f"Dovecot {r['imap_server_cpu_ms_per_mail']} ms; machine load {os.getloadavg()[0]:.1f}"
        )
        print(f"{'':>12}status after restart: {r['status_after_restart']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
