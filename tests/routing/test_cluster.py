"""Three hub processes on one PostgreSQL and Redis; the router is killed with SIGKILL mid-run.

Customer messages go to all three processes in turn while agents answer and resolve
what they get. Half-way the process holding the router lease is killed (``kill -9``):
another takes over within the lease and rebuilds from the database. At the end every
conversation was assigned, none to two agents at once, none twice by routing, and no
agent ever held more than their capacity (checked by replaying the event log).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select

from hub.bootstrap import build_services, sync_config
from hub.config import load_settings
from hub.db.models import Conversation, EventRecord, RoutingLease
from tests.conftest import _truncate_all, run_blocking
from tests.factories import create_user
from tests.services import REDIS_URL, service_missing
from tests.test_serve import free_port, wait_until_healthy

TOKEN = "cluster-test-token"
MESSAGES = 60
CAPACITY = 3
AGENTS = 4

CONFIG = f"""
[routing]
lease = 2
stats_interval = 1
capacity = {{ messaging = {CAPACITY} }}

[[queues]]
name = "support"

[[channels]]
type = "api"
name = "web-form"
queue = "support"
token_env = "CLUSTER_TEST_TOKEN"
"""


@pytest.fixture
def postgres_url(postgres_database: str | BaseException) -> str:
    if isinstance(postgres_database, BaseException):
        service_missing("PostgreSQL", postgres_database)
    assert isinstance(postgres_database, str)
    run_blocking(_truncate_all(postgres_database))
    return postgres_database


@pytest.fixture
async def redis_url() -> str:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        service_missing("Redis", exc)
    finally:
        await client.aclose()
    return REDIS_URL


async def test_three_processes_route_everything_once_even_when_the_router_is_killed(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_CONFIG=str(config), HUB_DATA_DIR=str(tmp_path / "data"), HUB_DATABASE_URL=postgres_url,
               HUB_REDIS_URL=redis_url, HUB_SECRET_KEY="cluster-secret", CLUSTER_TEST_TOKEN=TOKEN)
    settings = load_settings(config, env=env)
    services = build_services(settings)
    await sync_config(services)
    agents = [await create_user(services, role="agent", queues=["support"]) for _ in range(AGENTS)]

    ports = [free_port() for _ in range(3)]
    procs: dict[int, asyncio.subprocess.Process] = {}
    log = (tmp_path / "hubs.log").open("ab")
    try:
        for port in ports:
            procs[port] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub", "serve", "--port", str(port), cwd=tmp_path, env=env,
                stdout=log, stderr=log,
            )
        async with aiohttp.ClientSession() as http:
            for port in ports:
                await wait_until_healthy(http, f"http://127.0.0.1:{port}", procs[port])
            for n, agent in enumerate(agents):
                base = f"http://127.0.0.1:{ports[n % 3]}"
                async with http.put(f"{base}/api/v1/agents/me/presence", json={"status": "available"},
                                    headers=agent.headers) as resp:
                    assert resp.status == 200, await resp.text()
            sent: list[int] = []
            killed: int | None = None
            run = uuid.uuid4().hex[:8]
            for n in range(MESSAGES):
                alive = [p for p in ports if p != killed]
                base = f"http://127.0.0.1:{alive[n % len(alive)]}"
                body = {"id": f"{run}-{n}", "sender": {"email": f"c{n}-{run}@example.test"}, "text": "Hallo"}
                async with http.post(f"{base}/api/v1/channels/web-form/messages", json=body,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                    assert resp.status == 202, await resp.text()
                    sent.append((await resp.json())["conversation_id"])
                if n == MESSAGES // 2:
                    killed = await _kill_the_router(services, procs)
                await _resolve_some(http, ports, killed, services, agents)
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                open_left = await _resolve_some(http, ports, killed, services, agents)
                if open_left == 0:
                    break
                assert asyncio.get_running_loop().time() < deadline, f"{open_left} conversations never routed"
                await asyncio.sleep(0.2)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await proc.wait()
        log.close()

    async with services.sessions() as session:
        events = (await session.scalars(select(EventRecord).order_by(EventRecord.id))).all()
        holders = (await session.scalars(select(RoutingLease.epoch))).all()
    await services.engine.dispose()
    assert killed is not None and holders and holders[0] >= 2, "a second process took over the router"
    routed: dict[int, list[int]] = defaultdict(list)
    load: dict[int, set[int]] = defaultdict(set)
    for event in events:
        if event.type == "conversation.assigned":
            cid, to, before = event.conversation_id, event.data["assignee_id"], event.data["previous_assignee_id"]
            assert cid is not None
            if event.data.get("reason") == "routed":
                routed[cid].append(to)
                assert before is None, "routing never assigns an assigned conversation"
            if before is not None:
                load[before].discard(cid)
            if to is not None:
                load[to].add(cid)
                assert len(load[to]) <= CAPACITY, f"agent {to} held more than {CAPACITY}"
        elif event.type == "conversation.status_changed" and event.data["status"] == "resolved":
            for held in load.values():
                held.discard(event.conversation_id)
    assert sorted(routed) == sorted(sent), "every conversation was routed"
    assert all(len(agents_) == 1 for agents_ in routed.values()), "none was routed twice"


async def _kill_the_router(services: Any, procs: dict[int, asyncio.subprocess.Process]) -> int:
    for _ in range(100):
        async with services.sessions() as session:
            holder = await session.scalar(select(RoutingLease.holder))
        if holder:
            pid = int(holder.split(":")[1])
            for port, proc in procs.items():
                if proc.pid == pid:
                    proc.send_signal(signal.SIGKILL)
                    await proc.wait()
                    return port
        await asyncio.sleep(0.1)
    raise AssertionError("no process took the router lease")


async def _resolve_some(http: aiohttp.ClientSession, ports: list[int], killed: int | None, services: Any,
                        agents: list[Any]) -> int:
    """Each agent resolves what they hold (as an agent would, through the API); the number still open."""
    async with services.sessions() as session:
        rows = (await session.execute(
            select(Conversation.id, Conversation.assignee_id).where(Conversation.status == "open")
        )).all()
    by_id = {a.id: a for a in agents}
    alive = [p for p in ports if p != killed]
    for n, (cid, assignee) in enumerate(rows):
        if assignee in by_id:
            base = f"http://127.0.0.1:{alive[n % len(alive)]}"
            async with http.put(f"{base}/api/v1/conversations/{cid}/status", json={"status": "resolved"},
                                headers=by_id[assignee].headers) as resp:
                assert resp.status == 200, await resp.text()
    return sum(1 for _, assignee in rows if assignee is None)
