"""Web chat benchmark: many widget visitors writing while agents answer, end to end.

    .venv/bin/python bench/chat.py [--visitors 2000] [--agents 50] [--interval 5] [--seconds 60]
                                   [--backend sqlite|postgresql] [--reply-ratio 1.0]

Starts ``hub serve`` as its own process on a fresh database with one web chat channel,
creates the agents (and a supervisor who assigns each visitor's conversation to an
agent, as the routing engine will), then runs ``bench/chat_load.py`` in another
process. Prints the delivery latencies visitor -> agent websocket and agent -> visitor
websocket, the hub's RSS with every socket open, and CPU; exit status 1 when messages
were lost. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from databases import Database  # noqa: E402
from procs import Sampler, free_ports, start_profiler, stop, stop_profiler, wait_healthy  # noqa: E402

from hub.auth.tokens import digest, new_token  # noqa: E402
from hub.db.engine import create_engine, session_factory  # noqa: E402
from hub.db.models import ApiToken, User  # noqa: E402

CHANNEL = "bench-chat"
P99_TARGET_MS = 150.0
RSS_TARGET_MIB = 600.0

CONFIG = f"""
[[queues]]
name = "support"

[[channels]]
type = "webchat"
name = "{CHANNEL}"
queue = "support"
allowed_origins = ["http://bench.test"]
messages_per_minute = 1000
sessions_per_ip_per_hour = 1000000
"""


async def create_staff(url: str, agents: int) -> tuple[list[str], int]:
    """``agents`` agents and one supervisor with tokens; returns the tokens (supervisor last) and the first agent id."""
    engine = create_engine(url)
    tokens: list[str] = []
    first_id = 0
    try:
        async with session_factory(engine)() as session, session.begin():
            for n in range(agents + 1):
                role = "supervisor" if n == agents else "agent"
                user = User(email=f"{role}{n}@bench.test", name=f"{role.title()} {n}", role=role, active=True)
                session.add(user)
                await session.flush()
                first_id = first_id or user.id
                token = new_token()
                session.add(ApiToken(user_id=user.id, token_hash=digest(token), name="bench"))
                tokens.append(token)
    finally:
        await engine.dispose()
    return tokens, first_id


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as fh:
        return " ".join(fh.read().split()[:3])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-chat-bench-") as tmp:
        workdir = Path(tmp)
        database = Database(args.backend, workdir, args.postgres_url)
        database.create()
        try:
            tokens, first_agent = asyncio.run(create_staff(database.url, args.agents))
            agents_file = workdir / "agents.json"
            agents_file.write_text(json.dumps(tokens), encoding="utf-8")
            config = workdir / "hub.toml"
            config.write_text(CONFIG, encoding="utf-8")
            (port,) = free_ports(1)
            env = {
                **os.environ,
                "HUB_DATABASE_URL": database.url,
                "HUB_DATA_DIR": str(workdir / "data"),
                "HUB_SECRET_KEY": "bench-secret-key",
                "HUB_LOG_LEVEL": "WARNING",
            }
            log_path = workdir / "hub.log"
            command = [sys.executable, "-m", "hub", "--config", str(config), "serve", "--port", str(port)]
            with open(log_path, "wb") as log:
                server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=BENCH.parent)
            try:
                wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
                sampler = Sampler(server.pid)
                sampler.start()
                ready = workdir / "ready"
                out = workdir / "load.json"
                load_cmd = [
                    sys.executable, str(BENCH / "chat_load.py"), "--port", str(port), "--channel", CHANNEL,
                    "--agents", str(agents_file), "--first-agent-id", str(first_agent),
                    "--visitors", str(args.visitors), "--interval", str(args.interval),
                    "--seconds", str(args.seconds), "--reply-ratio", str(args.reply_ratio),
                    "--ready-file", str(ready), "--out", str(out),
                ]  # fmt: skip
                generator = subprocess.Popen(load_cmd)
                generator_sampler: Sampler | None = None
                while not ready.exists():
                    if generator.poll() is not None:
                        raise RuntimeError("the load generator failed during set-up")
                    time.sleep(0.2)
                generator_sampler = Sampler(generator.pid)
                generator_sampler.start()
                profiler = start_profiler(Path(args.profile), server.pid, f"chat-{args.backend}") if args.profile else None
                rss_connected = sampler.samples[-1].rss_kib / 1024 if sampler.samples else 0.0
                run_start = time.time()
                if generator.wait() != 0:
                    raise RuntimeError("the load generator failed")
                run_end = time.time()
                if profiler is not None:
                    stop_profiler(profiler)
                generator_sampler.finish()
                sampler.finish()
            except BaseException:
                sys.stderr.write(log_path.read_text(encoding="utf-8", errors="replace")[-4000:])
                raise
            finally:
                status = stop(server)
            report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
            log_text = log_path.read_text(encoding="utf-8", errors="replace")
            report["server_errors"] = [line[-600:] for line in log_text.splitlines() if "ERROR" in line.upper()][:5]
            report["backend"] = args.backend
            report["rss_mib_all_connected"] = round(rss_connected, 1)
            report["peak_rss_mib"] = round(sampler.peak_rss_mib, 1)
            report["server"] = {k: round(v, 2) for k, v in sampler.window(run_start, run_end).items()}
            report["generator_cores"] = round(generator_sampler.window(run_start, run_end)["process_cores"], 2)
            report["server_exit"] = status
            report["lost"] = report["acked"] - report["seen_by_agents"]
            report["replies_lost"] = report["replies"] - report["replies_seen_by_visitors"]
            return report
        finally:
            database.drop()


def render(report: dict[str, Any]) -> str:
    inbound, outbound = report["visitor_to_agent"], report["agent_to_visitor"]
    lines = [
        f"backend {report['backend']}: {report['visitors']} visitors, {report['agents']} agents, "
        f"{report['measured_seconds']} s measured",
        f"  visitor messages {report['visitor_messages']} (acked {report['acked']}, seen by agents "
        f"{report['seen_by_agents']}), replies {report['replies']} (seen by visitors {report['replies_seen_by_visitors']}),"
        f" errors {report['error_count']}",
        "  | path | n | p50 ms | p95 ms | p99 ms | max ms |",
        "  |---|---|---|---|---|---|",
    ]
    for label, p in (("visitor -> agent /ws", inbound), ("agent POST -> visitor ws", outbound)):
        if p.get("count"):
            lines.append(f"  | {label} | {p['count']} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | {p['max_ms']} |")
    server = report["server"]
    lines.append(
        f"  hub RSS with all sockets open {report['rss_mib_all_connected']} MiB, peak {report['peak_rss_mib']} MiB; "
        f"hub CPU {server['process_cores']} cores (loop {server['main_thread_cores']}), generator "
        f"{report['generator_cores']} cores, machine busy {server['machine_busy_share'] * 100:.0f} %"
    )
    p99 = max(inbound.get("p99_ms", 0.0), outbound.get("p99_ms", 0.0))
    lines.append(
        f"  target p99 < {P99_TARGET_MS:.0f} ms: {'met' if p99 < P99_TARGET_MS else 'NOT met'} ({p99} ms); "
        f"RSS < {RSS_TARGET_MIB:.0f} MB: {'met' if report['peak_rss_mib'] < RSS_TARGET_MIB else 'NOT met'}"
    )
    if report["errors"]:
        lines.append("  first errors: " + "; ".join(report["errors"][:5]))
    for line in report["server_errors"]:
        lines.append("  hub log: " + line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between two messages of a visitor")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured phase")
    parser.add_argument("--reply-ratio", type=float, default=1.0, help="share of visitor messages agents answer")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://127.0.0.1:5432/postgres")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON too")
    parser.add_argument("--profile", default="", help="record the hub with py-spy into this directory")
    args = parser.parse_args()
    print(f"load average before: {load_average()}", flush=True)
    report = measure(args)
    print(render(report))
    print(f"load average after: {load_average()}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if report["lost"] or report["replies_lost"] or report["error_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
