"""``hub serve`` as operators run it: a real process, stopped with SIGTERM under load."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from hub.cli.serve import SHUTDOWN_TIMEOUT
from hub.db.engine import create_engine
from hub.db.models import Message

TOKEN = "serve-test-token"
WORKERS = 16
ACCEPTED_BEFORE_SIGNAL = 60
STARTUP_DEADLINE = 60.0

CONFIG = """
[[queues]]
name = "support"

[[channels]]
type = "api"
name = "web-form"
queue = "support"
token_env = "SERVE_TEST_TOKEN"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_CONFIG=str(config), HUB_DATA_DIR=str(tmp_path / "data"), SERVE_TEST_TOKEN=TOKEN)
    return env


async def run_hub(tmp_path: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    log = (tmp_path / "hub.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub", *args, cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    finally:
        log.close()


async def wait_until_healthy(session: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_DEADLINE
    while loop.time() < deadline:
        assert proc.returncode is None, "hub serve exited during start-up"
        try:
            async with session.get(f"{base}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("hub serve did not become healthy")


async def test_sigterm_under_load_keeps_every_accepted_message_and_exits_cleanly(tmp_path: Path) -> None:
    env = hub_env(tmp_path)
    migrate = await run_hub(tmp_path, env, "migrate")
    assert await migrate.wait() == 0, (tmp_path / "hub.log").read_text()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await run_hub(tmp_path, env, "serve", "--port", str(port))
    accepted: dict[str, int] = {}  # provider message id -> stored message id
    answered_after_signal: list[int | str] = []
    signalled = False
    enough = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_healthy(session, base, proc)

            async def post(worker: int) -> None:
                sequence = 0
                while True:
                    provider_id = f"w{worker}-{sequence}"
                    sequence += 1
                    sent_after_signal = signalled
                    payload: dict[str, Any] = {
                        "id": provider_id,
                        "sender": {"external_id": f"customer-{worker}"},
                        "text": f"message {sequence}",
                    }
                    outcome: int | str
                    try:
                        async with session.post(
                            f"{base}/api/v1/channels/web-form/messages",
                            json=payload,
                            headers={"Authorization": f"Bearer {TOKEN}"},
                        ) as resp:
                            outcome = resp.status
                            if resp.status == 202:
                                accepted[provider_id] = (await resp.json())["message_id"]
                    except (aiohttp.ClientError, OSError) as exc:
                        outcome = type(exc).__name__
                    if len(accepted) >= ACCEPTED_BEFORE_SIGNAL:
                        enough.set()
                    if signalled:
                        answered_after_signal.append(outcome)
                    if sent_after_signal or (signalled and outcome != 202):
                        return  # the server is going away; stop once it says so

            workers = [asyncio.create_task(post(n)) for n in range(WORKERS)]
            await asyncio.wait_for(enough.wait(), STARTUP_DEADLINE)
            proc.send_signal(signal.SIGTERM)
            signalled = True
            await asyncio.wait_for(asyncio.gather(*workers), SHUTDOWN_TIMEOUT + 10)
        returncode = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    log = (tmp_path / "hub.log").read_text()
    assert returncode == 0, log
    assert "shutting down" in log
    # Requests the server was handling when SIGTERM came are finished, not dropped.
    assert 202 in answered_after_signal, answered_after_signal
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Message.provider_message_id, Message.id).where(Message.provider_message_id.in_(list(accepted)))
            )
            stored = {provider_id: message_id for provider_id, message_id in rows}
    finally:
        await engine.dispose()
    assert stored == accepted  # accepted = committed, every one of them
