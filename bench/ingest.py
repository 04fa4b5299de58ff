"""Ingest benchmark: messages/s and latency through the API channel over HTTP.

    .venv/bin/python bench/ingest.py [--messages N] [--concurrency C] [--backend sqlite|postgresql|both]

Starts ``python -m hub serve`` as its own process on a fresh, migrated database, warms
it up, then drives it from a second process (``bench/loadgen.py``) with C keep-alive
connections. The same load generator then drives a bare aiohttp handler, and the hub's
throughput is printed as a ratio of it. At the end every stored message is checked
against what was sent. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from databases import CHANNEL, Database, verify  # noqa: E402
from procs import Sampler, free_ports, start_profiler, stop, stop_profiler, wait_healthy  # noqa: E402
from workload import build, unique_ids  # noqa: E402

TOKEN = "bench-token"
TARGETS = {"sqlite": 1500.0, "postgresql": 2500.0}
P99_TARGET_MS = 50.0
RSS_TARGET_MIB = 300.0

CONFIG = f"""
[[queues]]
name = "support"

[[channels]]
type = "api"
name = "{CHANNEL}"
queue = "support"
token = "{TOKEN}"
"""


def run_loadgen(args: argparse.Namespace, ports: list[int], out: Path, start: int, count: int) -> dict[str, Any]:
    """Drive the servers on ``ports`` from a separate process; return its JSON report."""
    command = [
        sys.executable, str(BENCH / "loadgen.py"), "--port", ",".join(map(str, ports)), "--token", TOKEN,
        "--path", f"/api/v1/channels/{CHANNEL}/messages", "--start", str(start),
        "--messages", str(count), "--concurrency", str(args.concurrency),
        "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def run_servers(
    args: argparse.Namespace,
    label: str,
    commands: list[tuple[list[str], int]],
    env: dict[str, str],
    workdir: Path,
    after_warmup: Callable[[], None],
) -> tuple[dict[str, Any], dict[str, Any], list[Sampler], list[int]]:
    """Start the servers (command, port), wait for /healthz, warm up, drive, sample, stop them."""
    ports = [port for _, port in commands]
    processes: list[subprocess.Popen[bytes]] = []
    profiler: subprocess.Popen[bytes] | None = None
    logs = [workdir / f"{label.replace(' ', '-')}-{port}.log" for port in ports]
    try:
        for (command, _), log_path in zip(commands, logs, strict=True):
            with open(log_path, "wb") as log:
                processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir))
        for process, port in zip(processes, ports, strict=True):
            wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        samplers = [Sampler(process.pid) for process in processes]
        for sampler in samplers:
            sampler.start()
        warmup = run_loadgen(args, ports, workdir / "warmup.json", 0, args.warmup) if args.warmup else {}
        after_warmup()
        if args.profile and label != "bare aiohttp":
            profiler = start_profiler(Path(args.profile), processes[0].pid, label)
        main = run_loadgen(args, ports, workdir / "main.json", args.warmup, args.messages)
        for sampler in samplers:
            sampler.finish()
        if args.compare_wrk and label == "bare aiohttp":
            main["wrk_per_second"] = run_wrk(args, ports[0])
    except BaseException:
        _show_logs(logs)
        raise
    finally:
        if profiler is not None:
            stop_profiler(profiler)
        statuses = [stop(process) for process in processes]
    if any(status not in (0, -15) for status in statuses):
        _show_logs(logs)
    return warmup, main, samplers, statuses


def _show_logs(logs: list[Path]) -> None:
    for log_path in logs:
        if log_path.exists():
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            print(f"--- end of {log_path.name} ---\n{tail}", file=sys.stderr)


def run_wrk(args: argparse.Namespace, port: int) -> float:
    """Requests/s that wrk reaches against the same server with the same connection count."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("--compare-wrk needs wrk: apt-get install -y wrk")
    url = f"http://127.0.0.1:{port}/api/v1/channels/{CHANNEL}/messages"
    command = [wrk, "-t2", f"-c{args.concurrency}", "-d5s", "-s", str(BENCH / "wrk_unique.lua"), url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return float(match.group(1))




def measure(args: argparse.Namespace, label: str, backend: str | None) -> dict[str, Any]:
    """One target (``bare`` or the hub on ``backend``): figures plus, for the hub, the check."""
    workdir = Path(tempfile.mkdtemp(prefix=f"hub-bench-{label.replace(' ', '-')}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    database: Database | None = None
    try:
        if backend is None:
            (port,) = free_ports(1)
            commands = [([sys.executable, str(BENCH / "bare.py"), "--port", str(port)], port)]
        else:
            database = Database(backend, workdir, args.postgres_url)
            database.create()
            (workdir / "hub.toml").write_text(CONFIG, encoding="utf-8")
            env.update(HUB_DATABASE_URL=database.url, HUB_DATA_DIR=str(workdir / "data"), HUB_SECRET_KEY="bench")
            env["PYTHONPATH"] = str(ROOT)
            count = args.hub_processes if backend == "postgresql" else 1  # SQLite has one writer process
            commands = []
            for port in free_ports(count):
                command = [
                    sys.executable, "-m", "hub", "--config", str(workdir / "hub.toml"),
                    "serve", "--port", str(port), "--log-level", "WARNING",
                ]  # fmt: skip
                commands.append((command, port))
        after_warmup = database.analyze if database is not None else (lambda: None)
        warmup, main, samplers, statuses = run_servers(args, label, commands, env, workdir, after_warmup)
        windows = [sampler.window(main["started_at"], main["ended_at"]) for sampler in samplers]
        result: dict[str, Any] = {
            "label": label,
            "backend": backend,
            **{k: main[k] for k in ("requests", "seconds", "per_second", "slowest_second", "per_second_series", "p50_ms", "p95_ms",
                                    "p99_ms", "max_ms", "errors", "statuses", "duplicates_reported")},
            "warmup": warmup.get("requests", 0),
            "concurrency": main["concurrency"],
            "processes": len(samplers),
            "peak_rss_mib": max(sampler.peak_rss_mib for sampler in samplers),
            "server_cores": sum(w["process_cores"] for w in windows),
            "loop_cores": max(w["main_thread_cores"] for w in windows),
            "machine_busy": windows[0]["machine_busy_share"],
            "loadgen_cores": main["client_cpu_seconds"] / main["seconds"],
            "exit_status": statuses,
            "wrk_per_second": main.get("wrk_per_second"),
        }  # fmt: skip
        if database is not None:
            items = build(args.warmup + args.messages, seed=args.seed)
            errors = int(main["errors"]) + int(warmup.get("errors", 0))
            acked = set(main["acked_ids"]) | set(warmup.get("acked_ids", []))
            result["check"] = verify(database.stored(), acked, unique_ids(items), errors)
            replays = len(items) - len(unique_ids(items))
            reported = int(main["duplicates_reported"]) + int(warmup.get("duplicates_reported", 0))
            if errors == 0 and reported != replays:
                result["check"]["problems"].append(f"{reported} duplicate answers for {replays} replays")
                result["check"]["ok"] = False
        return result
    finally:
        if database is not None and not args.keep:
            database.drop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def render(results: list[dict[str, Any]]) -> str:
    """A plain-text table of the figures, the ratio to bare aiohttp, and the verdicts."""
    lines = [
        f"{'target':<18}{'msg/s':>8}{'worst 1s':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'errors':>8}{'peak RSS':>10}{'srv CPU':>9}{'loop':>6}{'gen CPU':>9}{'machine':>9}"
    ]
    for r in results:
        lines.append(
            f"{r['label']:<18}{r['per_second']:>8.0f}{r['slowest_second']:>10}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['errors']:>8}{r['peak_rss_mib']:>8.0f}MB"
            f"{r['server_cores']:>9.2f}{r['loop_cores']:>6.2f}{r['loadgen_cores']:>9.2f}{r['machine_busy']:>8.0%} "
        )
    bare = next((r for r in results if r["label"] == "bare aiohttp"), None)
    if bare is not None and bare.get("wrk_per_second"):
        lines.append(
            f"load generator check: wrk -t2 drives the bare handler at {bare['wrk_per_second']:.0f}/s, "
            f"bench/loadgen.py at {bare['per_second']:.0f}/s"
        )
    for r in results:
        if r["label"] == "bare aiohttp":
            continue
        backend = r["backend"]
        ratio = f"{r['per_second'] / bare['per_second']:.3f} of bare aiohttp" if bare else "no baseline"
        verdicts = [
            f"{'PASS' if r['per_second'] >= TARGETS[backend] else 'MISS'} >= {TARGETS[backend]:.0f}/s",
            f"{'PASS' if r['p99_ms'] < P99_TARGET_MS else 'MISS'} p99 < {P99_TARGET_MS:.0f} ms",
            f"{'PASS' if r['peak_rss_mib'] < RSS_TARGET_MIB else 'MISS'} RSS < {RSS_TARGET_MIB:.0f} MB",
        ]
        check = r["check"]
        lines.append(f"{r['label']}: {ratio}; " + ", ".join(verdicts))
        lines.append(
            f"  check: {check['sent_unique']} unique ids sent, {check['acked_unique']} acknowledged, "
            f"{check['stored']} stored ({check['stored_unique']} distinct), "
            f"{check['received_events']} message.received events: "
            + ("OK" if check["ok"] else "FAILED: " + "; ".join(check["problems"]))
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="hub ingest benchmark (see bench/README.md)")
    parser.add_argument("--messages", type=int, default=30_000, help="measured messages per target")
    parser.add_argument("--warmup", type=int, default=3_000, help="messages sent before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent client connections")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_BENCH_POSTGRES_URL",
                        "postgresql+asyncpg://127.0.0.1:5432/postgres"),
                        help="server (and admin database) in which a fresh database is created")  # fmt: skip
    parser.add_argument("--hub-processes", type=int, default=1,
                        help="PostgreSQL only: run this many hub processes, connections spread over them")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare aiohttp run")
    parser.add_argument("--profile", metavar="DIR", help="record the hub with py-spy (raw stacks) into DIR")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and database")
    parser.add_argument("--compare-wrk", action="store_true",
                        help="also drive the bare handler with wrk (apt-get install -y wrk) to check the load generator")  # fmt: skip
    args = parser.parse_args()

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()[0]
    results: list[dict[str, Any]] = []
    if not args.no_baseline:
        print("bare aiohttp handler ...", file=sys.stderr)
        results.append(measure(args, "bare aiohttp", None))
    for backend in backends:
        print(f"hub on {backend} ...", file=sys.stderr)
        processes = args.hub_processes if backend == "postgresql" else 1
        label = f"hub {backend}" + (f" x{processes}" if processes > 1 else "")
        results.append(measure(args, label, backend))
    print(
        f"{started}; {os.cpu_count()} cores; {args.messages} messages after {args.warmup} warm-up, "
        f"{args.concurrency} connections; load average before: {load_before:.2f}"
    )
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"started": started, "args": vars(args), "results": results}, indent=2))
    return 0 if all(r.get("check", {"ok": True})["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
