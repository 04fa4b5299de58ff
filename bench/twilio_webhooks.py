"""Twilio SMS webhook benchmark: signed incoming-message webhooks at rising open-loop rates.

    .venv/bin/python bench/twilio_webhooks.py [--rates 200,400,800,1200] [--seconds 10] [--connections 256]

Starts ``python -m hub serve`` on a fresh, migrated SQLite database with one ``twilio``
channel behind ``https://hub.example.com`` (the public URL signatures are computed
over), then a load generator process sends signed SMS webhooks exactly as Twilio
does (form-encoded, ``X-Twilio-Signature`` over the public URL and sorted params) at
each rate in turn. Open loop: request *i* of a step is due at ``start + i / rate``
whatever the server does; when every connection is busy it waits, and its latency
counts from when it was due (no coordinated omission). 1 % of the requests repeat an
earlier MessageSid (Twilio's retries). Per step: offered and achieved rate, latency
percentiles, errors. At the end every stored message is checked against what was
sent (no loss, no duplicate). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from databases import CHANNEL, Database, verify  # noqa: E402
from procs import Sampler, free_ports, start_profiler, stop, stop_profiler, wait_healthy  # noqa: E402

PUBLIC_URL = "https://hub.example.com"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-twilio-auth-token"
NUMBER = "+14155550100"
PATH = f"/webhooks/twilio/{CHANNEL}/messages"
TARGET_RATE = 800.0
P99_TARGET_MS = 100.0
SUSTAINED_SHARE = 0.98  # a step is sustained when this share of the offered requests completed in time

CONFIG = f"""
[server]
public_url = "{PUBLIC_URL}"

[security]
outbound_allow_networks = ["127.0.0.0/8"]

[[queues]]
name = "support"

[[channels]]
type = "twilio"
name = "{CHANNEL}"
queue = "support"
account_sid = "{ACCOUNT_SID}"
auth_token_env = "BENCH_TWILIO_TOKEN"
phone_number = "{NUMBER}"
api_base_url = "http://127.0.0.1:9"
"""


def signature(url: str, params: list[tuple[str, str]]) -> str:
    """X-Twilio-Signature as Twilio computes it (HMAC-SHA1 over URL + sorted name/value pairs)."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def build(count: int, seed: int) -> tuple[list[bytes], list[str]]:
    """Request bytes and their MessageSids (1 % repeat an earlier one)."""
    rng = random.Random(seed)
    requests: list[bytes] = []
    sids: list[str] = []
    for index in range(count):
        if index > 100 and rng.random() < 0.01:
            replay = rng.randrange(index)
            requests.append(requests[replay])
            sids.append(sids[replay])
            continue
        sid = "SM" + hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:32]
        customer = f"+49151{rng.randrange(10_000_000):07d}"
        params = [
            ("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid), ("SmsStatus", "received"),
            ("Body", f"Frage {index}: wann kommt meine Bestellung {rng.randrange(10**6)}?"), ("FromCountry", "DE"),
            ("To", NUMBER), ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", ACCOUNT_SID),
            ("From", customer), ("ApiVersion", "2010-04-01"),
        ]  # fmt: skip
        body = urlencode(params).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: hub.example.com\r\nUser-Agent: TwilioProxy/1.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature(PUBLIC_URL + PATH, params)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
        sids.append(sid)
    return requests, sids


# --- load generator (its own process) ------------------------------------------------


class Step:
    """One rate step: request ``start + i`` is due at ``t0 + i / rate``."""

    def __init__(self, requests: list[bytes], start: int, count: int, rate: float) -> None:
        self.requests, self.start, self.count, self.rate = requests, start, count, rate
        self.latency = array("d", bytes(8 * count))
        self.status = array("H", bytes(2 * count))
        self.done = 0
        self.t0 = 0.0
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def record(self, slot: int, status: int, latency: float) -> None:
        self.latency[slot], self.status[slot] = latency, status
        self.done += 1
        if self.done == self.count and not self.finished.done():
            self.finished.set_result(None)


class Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection with one request in flight."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: Any = None
        self.buffer = bytearray()
        self.slot = -1
        self.due = 0.0
        self.need = -1

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.pool.release(self)

    def send(self, slot: int, due: float) -> None:
        self.slot, self.due, self.need = slot, due, -1
        self.buffer.clear()
        self.transport.write(self.pool.step.requests[self.pool.step.start + slot])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            self.need = end + 4 + length
        if len(self.buffer) >= self.need:
            status = int(self.buffer[9:12])
            self.pool.step.record(self.slot, status, time.perf_counter() - self.due)
            self.pool.release(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot >= 0 and self.need != -2:
            self.pool.step.record(self.slot, 599, time.perf_counter() - self.due)
        self.need = -2


class Pool:
    def __init__(self) -> None:
        self.idle: deque[Connection] = deque()
        self.backlog: deque[tuple[int, float]] = deque()
        self.step: Step = None  # type: ignore[assignment]

    def release(self, connection: Connection) -> None:
        connection.slot = -1
        if self.backlog:
            connection.send(*self.backlog.popleft())
        else:
            self.idle.append(connection)

    def submit(self, slot: int, due: float) -> None:
        if self.idle:
            self.idle.popleft().send(slot, due)
        else:
            self.backlog.append((slot, due))


async def drive(port: int, requests: list[bytes], rates: list[float], seconds: float, connections: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    pool = Pool()
    for _ in range(connections):
        await loop.create_connection(lambda: Connection(pool), "127.0.0.1", port)
    results: list[dict[str, Any]] = []
    start = 0
    for rate in rates:
        count = int(rate * seconds)
        step = Step(requests, start, count, rate)
        pool.step = step
        cpu0 = time.process_time()
        step.t0 = t0 = time.perf_counter() + 0.05
        for slot in range(count):
            due = t0 + slot / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            pool.submit(slot, due)
        await asyncio.wait_for(step.finished, timeout=120)
        elapsed = time.perf_counter() - t0
        latencies = sorted(step.latency)
        in_time = sum(1 for lat in step.latency if lat <= 1.0)

        def pct(q: float, values: list[float] = latencies) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1000

        statuses: dict[str, int] = {}
        for code in step.status:
            statuses[str(code)] = statuses.get(str(code), 0) + 1
        results.append({
            "rate": rate, "requests": count, "seconds": elapsed, "achieved": count / elapsed,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000,
            "errors": sum(n for code, n in statuses.items() if code != "200"), "statuses": statuses,
            "in_time_share": in_time / count, "client_cpu": (time.process_time() - cpu0) / elapsed,
            "started_at": time.time() - elapsed, "ended_at": time.time(),
        })  # fmt: skip
        start += count
        await asyncio.sleep(1.0)  # let the hub drain before the next step
    return results


def generate(args: argparse.Namespace) -> int:
    import uvloop

    rates = [float(r) for r in args.rates.split(",")]
    total = sum(int(r * args.seconds) for r in rates)
    requests, _ = build(total, args.seed)
    results = uvloop.run(drive(args.port, requests, rates, args.seconds, args.connections))
    Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    return 0


# --- orchestration ---------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-twilio-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    database = Database("sqlite", workdir, "")
    database.create()
    (workdir / "hub.toml").write_text(CONFIG, encoding="utf-8")
    env.update(HUB_DATABASE_URL=database.url, HUB_DATA_DIR=str(workdir / "data"), HUB_SECRET_KEY="bench",
               BENCH_TWILIO_TOKEN=AUTH_TOKEN, PYTHONPATH=str(ROOT))  # fmt: skip
    (port,) = free_ports(1)
    log_path = workdir / "hub.log"
    command = [sys.executable, "-m", "hub", "--config", str(workdir / "hub.toml"), "serve", "--port", str(port),
               "--log-level", "WARNING"]  # fmt: skip
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
            sampler = Sampler(process.pid)
            sampler.start()
            profiler = start_profiler(Path(args.profile), process.pid, "hub-twilio") if args.profile else None
            out = workdir / "steps.json"
            subprocess.run([sys.executable, __file__, "--generate", "--port", str(port), "--rates", args.rates,
                            "--seconds", str(args.seconds), "--connections", str(args.connections),
                            "--seed", str(args.seed), "--out", str(out)], check=True)  # fmt: skip
            if profiler is not None:
                stop_profiler(profiler)
            sampler.finish()
            steps: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
        finally:
            status = stop(process)
        for step in steps:
            window = sampler.window(step["started_at"], step["ended_at"])
            step["server_cores"] = window["process_cores"]
            step["loop_cores"] = window["main_thread_cores"]
            step["machine_busy"] = window["machine_busy_share"]
        total = sum(int(float(r) * args.seconds) for r in args.rates.split(","))
        requests, sids = build(total, args.seed)
        errors = sum(s["errors"] for s in steps)
        acked = set(sids) if errors == 0 else set()
        check = verify(database.stored(), acked, set(sids), errors)
        if status not in (0, -15):
            check["problems"].append(f"the hub exited with status {status}")
            check["ok"] = False
        return {"steps": steps, "check": check, "peak_rss_mib": sampler.peak_rss_mib, "replays": len(sids) - len(set(sids))}
    except BaseException:
        if log_path.exists():
            print(log_path.read_text(encoding="utf-8", errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{'offered/s':>10}{'achieved/s':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        f"{'srv CPU':>9}{'loop':>6}{'gen CPU':>9}{'machine':>9}  verdict"
    ]
    sustained = 0.0
    for s in result["steps"]:
        ok = s["errors"] == 0 and s["in_time_share"] >= SUSTAINED_SHARE and s["achieved"] >= SUSTAINED_SHARE * s["rate"]
        fast = s["p99_ms"] < P99_TARGET_MS
        if ok:
            sustained = max(sustained, s["rate"])
        verdict = ("sustained" if ok else "NOT sustained") + ("" if fast else f", p99 >= {P99_TARGET_MS:.0f} ms")
        lines.append(
            f"{s['rate']:>10.0f}{s['achieved']:>12.0f}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}{s['p99_ms']:>9.1f}"
            f"{s['max_ms']:>9.1f}{s['errors']:>8}{s['server_cores']:>9.2f}{s['loop_cores']:>6.2f}"
            f"{s['client_cpu']:>9.2f}{s['machine_busy']:>8.0%}  {verdict}"
        )
    best = max((s for s in result["steps"] if s["rate"] <= sustained), key=lambda s: s["rate"], default=None)
    target_step = next((s for s in result["steps"] if s["rate"] >= TARGET_RATE), None)
    passed = target_step is not None and sustained >= TARGET_RATE and target_step["p99_ms"] < P99_TARGET_MS
    lines.append(
        f"sustained: {sustained:.0f} webhooks/s"
        + (f" (p99 {best['p99_ms']:.1f} ms there)" if best else "")
        + f"; target >= {TARGET_RATE:.0f}/s with p99 < {P99_TARGET_MS:.0f} ms: {'PASS' if passed else 'MISS'}"
    )
    check = result["check"]
    lines.append(
        f"check: {check['sent_unique']} unique MessageSids sent ({result['replays']} retries), {check['stored']} stored "
        f"({check['stored_unique']} distinct), {check['received_events']} message.received events: "
        + ("OK" if check["ok"] else "FAILED: " + "; ".join(check["problems"]))
        + f"; peak RSS {result['peak_rss_mib']:.0f} MB"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Twilio SMS webhook benchmark (see bench/README.md)")
    parser.add_argument("--rates", default="200,400,800,1200", help="offered webhooks/s, one step each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    parser.add_argument("--connections", type=int, default=256, help="keep-alive connections (Twilio's are many)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--profile", metavar="DIR", help="record the hub with py-spy (raw stacks) into DIR")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        return generate(args)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()
    result = run(args)
    print(f"{started}; {os.cpu_count()} cores; SQLite; steps of {args.seconds:.0f} s; {args.connections} connections; "
          f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")  # fmt: skip
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps({"started": started, "args": vars(args), **result}, indent=2))
    return 0 if result["check"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
