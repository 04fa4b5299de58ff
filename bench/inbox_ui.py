"""Inbox UI benchmark: the list and conversation APIs with 100,000 conversations and 1,000,000 messages.

    .venv/bin/python bench/inbox_ui.py [--conversations N] [--messages M] [--backend sqlite|postgresql|both]
                                       [--requests R] [--big 500]

Fills a fresh, migrated database with bulk Core inserts (contacts, identities,
conversations, messages, tags, SLA clocks; one conversation with ``--big`` messages),
then serves the hub app in-process and measures **server time** (a middleware times
each handler) of the inbox list (``GET /api/v1/conversations`` in the views the UI
uses) and of the conversation with ``--big`` messages (``GET /api/v1/conversations/{id}``
and the page ``/inbox/{id}``), and the full-text search ``q`` with rare and common words,
a prefix and a phrase. Targets: list p95 < 50 ms, conversation p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from databases import Database  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from hub.api.app import create_app  # noqa: E402
from hub.auth import accounts  # noqa: E402
from hub.bootstrap import build_services, sync_config  # noqa: E402
from hub.config import ChannelConfig, QueueConfig, Settings  # noqa: E402
from hub.db.models import (  # noqa: E402
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationTag,
    Message,
    Queue,
    SlaClock,
    Tag,
)
from hub.db.statistics import SqliteStatistics  # noqa: E402
from hub.services import Services  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://127.0.0.1:5432/test")
LIST_P95_MS = 50.0
CONVERSATION_P95_MS = 150.0
BATCH = 5000
AGENTS = 20
STATUSES = ("open",) * 3 + ("pending",) + ("snoozed",) + ("resolved",) * 5
WORDS = ["Bestellung", "Lieferung", "Rechnung", "Rücksendung", "Passwort", "Konto", "Adresse", "Zahlung", "invoice", "refund", "delivery", "order", "password", "account", "address", "payment", "bitte", "danke", "hallo", "please", "thanks", "hello", "problem", "frage", "question"]
PASSWORD = "bench password 123"
RARE_EVERY = 1000  # one message in this many names a complaint ("Reklamation"): the search for a rare word
SEARCHES = (  # (label, caller, q): the full-text search as an agent uses it
    ("search: rare word (0.1% of messages)", "supervisor", "Reklamation"),
    ("search: rare word, as typed (prefix)", "supervisor", "Reklam"),
    ("search: rare word (agent, own queues)", "agent", "reklamation"),
    ("search: two words, one rare", "supervisor", "Reklamation bitte"),
    ("search: common word (~40% of messages)", "supervisor", "Rechnung"),
    ("search: phrase of common words", "supervisor", '"danke hallo"'),
    ("search: no match", "supervisor", "zzznirgends"),
)


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench-secret",
        queues=(QueueConfig("support"), QueueConfig("billing"), QueueConfig("sales")),
        channels=(
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": "t1"}),
            ChannelConfig(type="api", name="shop", queue="billing", options={"token": "t2"}),
            ChannelConfig(type="api", name="portal", queue="sales", options={"token": "t3"}),
        ),
        routing={"enabled": False},
    )


SAMPLES = web.AppKey("bench_samples", dict[str, list[float]])


def timing_middleware(samples: dict[str, list[float]]) -> Any:
    @web.middleware
    async def timed(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        label = request.headers.get("X-Bench-Label")
        start, cpu = time.perf_counter(), time.process_time()
        response = await handler(request)
        if label:
            samples.setdefault(label, []).append((time.perf_counter() - start) * 1000)
            samples.setdefault(f"{label} [cpu]", []).append((time.process_time() - cpu) * 1000)
        return response

    return timed


async def bulk(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), BATCH):
        await session.execute(insert(model), rows[i : i + BATCH])


async def fill(services: Services, conversations: int, messages: int, big: int, seed: int) -> dict[str, Any]:
    """Generate the data set; returns the ids the measurements need."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    agent_ids = []
    for n in range(AGENTS):
        member_of = ["support", "billing"] if n % 2 == 0 else ["support", "sales"]
        agent_ids.append(await accounts.create_user(
            services, email=f"agent{n}@bench.test", name=f"Agent {n}", role="agent", password=PASSWORD,
            queues=member_of, skills={}, actor_id=None,
        ))
    supervisor_id = await accounts.create_user(
        services, email="boss@bench.test", name="Boss", role="supervisor", password=None,
        queues=[], skills={}, actor_id=None,
    )
    tokens = {}
    for who, user_id in (("agent", agent_ids[0]), ("supervisor", supervisor_id)):
        _, tokens[who] = await accounts.create_token(services, user_id=user_id, name="bench", actor_id=None)

    started = time.perf_counter()
    async with services.sessions() as session, session.begin():
        channels: dict[str, int] = {name: cid for name, cid in await session.execute(select(Channel.name, Channel.id))}
        queues: dict[str, int] = {name: qid for name, qid in await session.execute(select(Queue.name, Queue.id))}
        queue_of_channel = {channels["web-form"]: queues["support"], channels["shop"]: queues["billing"],
                            channels["portal"]: queues["sales"]}
        channel_ids = list(channels.values())
        contacts = max(1, conversations // 3)
        first_contact = int(await session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) or 0) + 1
        await bulk(session, Contact, [
            {"id": first_contact + i, "name": f"Kunde {i}", "attributes": {}, "created_at": now, "updated_at": now}
            for i in range(contacts)
        ])
        await bulk(session, ContactIdentity, [
            {"contact_id": first_contact + i, "kind": "email", "address": f"kunde{i}@example.test", "created_at": now}
            for i in range(contacts)
        ])
        vip = (await session.execute(insert(Tag).values(name="vip").returning(Tag.id))).scalar_one()
        later = (await session.execute(insert(Tag).values(name="rückruf").returning(Tag.id))).scalar_one()
        conv_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        sla_rows: list[dict[str, Any]] = []
        for i in range(conversations):
            channel_id = rng.choice(channel_ids)
            status = rng.choice(STATUSES)
            last = now - timedelta(seconds=rng.randint(0, 90 * 86400))
            assignee = None if status == "open" and rng.random() < 0.4 else rng.choice(agent_ids)
            conv_id = i + 1
            conv_rows.append({
                "id": conv_id, "contact_id": first_contact + rng.randrange(contacts), "channel_id": channel_id,
                "queue_id": queue_of_channel[channel_id], "assignee_id": assignee, "status": status,
                "priority": rng.choice((1, 1, 1, 1, 2, 3)), "subject": " ".join(rng.sample(WORDS, 3)),
                "created_at": last - timedelta(hours=2), "updated_at": last, "last_message_at": last,
                "waiting_since": last if status == "open" else None,
                "snoozed_until": now + timedelta(days=1) if status == "snoozed" else None,
                "resolved_at": last if status == "resolved" else None,
            })
            if rng.random() < 0.1:
                tag_rows.append({"conversation_id": conv_id, "tag_id": vip})
            if rng.random() < 0.02:
                tag_rows.append({"conversation_id": conv_id, "tag_id": later})
            if status == "open":
                sla_rows.append({"conversation_id": conv_id, "target": "first_response", "policy": "standard",
                                 "queue_id": queue_of_channel[channel_id], "state": "active", "running": True,
                                 "goal_seconds": 3600.0, "elapsed_seconds": 60.0, "due_at": now + timedelta(hours=1),
                                 "updated_at": now})
        await bulk(session, Conversation, conv_rows)
        await bulk(session, ConversationTag, tag_rows)
        await bulk(session, SlaClock, sla_rows)

        big_id = conv_rows[0]["id"]
        others = max(1, conversations - 1)
        per_conversation, extra = divmod(max(0, messages - big), others)
        message_rows: list[dict[str, Any]] = []
        written = 0

        async def flush() -> None:
            nonlocal message_rows, written
            await session.execute(insert(Message), message_rows)
            written += len(message_rows)
            message_rows = []

        for conv in conv_rows:
            count = big if conv["id"] == big_id else per_conversation + (1 if conv["id"] - 1 <= extra else 0)
            start = conv["created_at"]
            for k in range(count):
                if written + len(message_rows) >= messages:
                    break
                incoming = k % 2 == 0
                message_rows.append({
                    "conversation_id": conv["id"], "channel_id": conv["channel_id"],
                    "direction": "in" if incoming else "out", "private": (not incoming) and k % 7 == 1,
                    "author_user_id": None if incoming else conv["assignee_id"],
                    "text": " ".join(rng.choices(WORDS, k=12))
                    + (" Reklamation" if (written + len(message_rows)) % RARE_EVERY == 0 else ""),
                    "status": "received" if incoming else "sent",
                    "provider_message_id": f"b-{conv['id']}-{k}" if incoming else None,
                    "created_at": start + timedelta(minutes=k), "sent_at": None if incoming else start + timedelta(minutes=k),
                })
                if len(message_rows) >= BATCH:
                    await flush()
        if message_rows:
            await flush()
    return {
        "tokens": tokens, "big_id": big_id, "agent_id": agent_ids[0], "messages": written,
        "fill_seconds": time.perf_counter() - started,
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


async def measure(client: TestClient[Any, Any], data: dict[str, Any], requests: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = client.app[SAMPLES]
    agent = {"Authorization": f"Bearer {data['tokens']['agent']}"}
    supervisor = {"Authorization": f"Bearer {data['tokens']['supervisor']}"}
    views: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("list: all (supervisor)", supervisor, {}),
        ("list: my queues (agent)", agent, {"my_queues": "true"}),
        ("list: mine (agent)", agent, {"assignee": "me"}),
        ("list: unassigned (agent)", agent, {"assignee": "none"}),
        ("list: open (supervisor)", supervisor, {"status": "open"}),
        ("list: channel shop, open", supervisor, {"channel": "shop", "status": "open"}),
        ("list: tag vip", supervisor, {"tag": "vip"}),
        ("list: tag rückruf, open (rare)", supervisor, {"tag": "rückruf", "status": "open"}),
        ("list: priority ≥ 3", agent, {"priority_min": "3"}),
    ]
    for label, headers, params in views:
        first = await client.get("/api/v1/conversations", headers=headers, params={**params, "limit": "50"})
        assert first.status == 200, await first.text()
        next_cursor = (await first.json())["next"]
        samples.pop(label, None)
        for n in range(requests):
            query = {**params, "limit": "50"}
            if n % 4 == 3 and next_cursor:
                query["cursor"] = next_cursor  # every fourth request reads the second page
            resp = await client.get("/api/v1/conversations", headers={**headers, "X-Bench-Label": label}, params=query)
            assert resp.status == 200, await resp.text()
            await resp.read()
    big = data["big_id"]
    for n in range(requests):
        resp = await client.get(f"/api/v1/conversations/{big}", headers={**supervisor, "X-Bench-Label": "conversation API (500 messages)"})
        assert resp.status == 200
        if n == 0:
            messages = (await resp.json())["messages"]
            assert len(messages) >= 500, len(messages)
        else:
            await resp.read()
    callers = {"agent": agent, "supervisor": supervisor}
    for label, caller, q in SEARCHES:
        first = await client.get("/api/v1/conversations", headers=callers[caller], params={"q": q, "limit": "50"})
        assert first.status == 200, await first.text()
        found = len((await first.json())["items"])
        assert found > 0 or label.endswith("no match"), (label, found)
        for _ in range(max(10, requests // 5)):
            resp = await client.get("/api/v1/conversations", headers={**callers[caller], "X-Bench-Label": label},
                                    params={"q": q, "limit": "50"})
            assert resp.status == 200
            await resp.read()
    return samples


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-inbox-bench-") as tmp:
        database = Database(backend, Path(tmp), POSTGRES_ADMIN_URL)
        await asyncio.to_thread(database.create)
        try:
            settings = settings_for(database.url, Path(tmp) / "data")
            services = build_services(settings)
            try:
                await sync_config(services)
                data = await fill(services, args.conversations, args.messages, args.big, args.seed)
                analyzed = time.perf_counter()
                # What a running hub has: SQLite statistics from its periodic ANALYZE
                # (hub.db.statistics), PostgreSQL's from autovacuum.
                await SqliteStatistics(services).analyze()
            finally:
                await services.engine.dispose()
            await asyncio.to_thread(database.analyze)
            data["analyze_seconds"] = time.perf_counter() - analyzed
            app = create_app(settings)
            samples: dict[str, list[float]] = {}
            app[SAMPLES] = samples
            app.middlewares.append(timing_middleware(samples))
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                await measure(client, data, args.requests)
            return {"backend": backend, "data": data, "samples": dict(samples)}
        finally:
            await asyncio.to_thread(database.drop)


def report(result: dict[str, Any], args: argparse.Namespace) -> bool:
    data = result["data"]
    sys.stdout.write(
        f"\n{result['backend']}: {args.conversations:,} conversations, {data['messages']:,} messages "
        f"filled in {data['fill_seconds']:.1f} s (ANALYZE {data['analyze_seconds']:.1f} s)\n"
    )
    sys.stdout.write(f"{'request':44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU p50':>8} {'CPU p95':>8}  target (p95)\n")
    ok = True
    for label, values in result["samples"].items():
        if label.endswith("[cpu]"):
            continue
        cpu = result["samples"].get(f"{label} [cpu]", [0.0])
        target = LIST_P95_MS if label.startswith("list") else CONVERSATION_P95_MS if label.startswith("conversation") else None
        met = "" if target is None else ("ok" if p95(values) < target else "MISSED")
        ok = ok and met != "MISSED"
        sys.stdout.write(
            f"{label:44} {len(values):>5} {statistics.median(values):>8.1f} {p95(values):>8.1f} {max(values):>8.1f} "
            f"{statistics.median(cpu):>8.1f} {p95(cpu):>8.1f}  "
            f"{'' if target is None else f'< {target:.0f} {met}'}\n"
        )
    return ok


async def main_async(args: argparse.Namespace) -> int:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        ok = report(await run_backend(backend, args), args) and ok
    load = os.getloadavg()
    sys.stdout.write(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {'all targets met' if ok else 'a target was missed'}\n")
    return 0 if ok else 1


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=500, help="messages of the one long conversation")
    parser.add_argument("--requests", type=int, default=200, help="requests per measured view")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=6)
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main_async(parse())))
