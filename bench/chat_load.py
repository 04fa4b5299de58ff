"""Load generator of bench/chat.py: widget visitors and agents, in one process of its own.

Phases: start the visitors' sessions, open their websockets and the agents' /ws, let each
visitor write once (its conversation is then assigned to an agent, as routing would),
then for ``--seconds`` every visitor writes every ``--interval`` seconds and the assigned
agent answers each message over the REST API. Times are taken with one monotonic clock
in this process, so the two latencies need no clock sync:

- visitor -> agent: the visitor's frame is written -> the agent's /ws delivers its
  ``message.received`` event;
- agent -> visitor: the agent's POST starts -> the visitor's websocket delivers the reply.

Writes a JSON report to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ORIGIN = "http://bench.test"


@dataclass
class Stats:
    send_at: dict[str, float] = field(default_factory=dict)  # client id -> when the visitor wrote
    message_of: dict[int, str] = field(default_factory=dict)  # message id -> client id (from the ack)
    agent_seen: dict[int, float] = field(default_factory=dict)  # message id -> agent's /ws event
    reply_started: dict[str, float] = field(default_factory=dict)  # reply token -> POST start
    reply_seen: dict[str, float] = field(default_factory=dict)  # reply token -> visitor's frame
    errors: list[str] = field(default_factory=list)
    measuring: bool = False


class VisitorClient:
    def __init__(self, index: int, ws: aiohttp.ClientWebSocketResponse, stats: Stats) -> None:
        self.index = index
        self.ws = ws
        self.stats = stats
        self.acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.sent = 0

    async def say(self, text: str, *, wait: bool = False) -> dict[str, Any] | None:
        self.sent += 1
        client_id = f"v{self.index}x{self.sent:06d}"
        future: asyncio.Future[dict[str, Any]] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
            self.acks[client_id] = future
        if self.stats.measuring:
            self.stats.send_at[client_id] = time.monotonic()
        await self.ws.send_str(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        return await future if future is not None else None

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            frame = json.loads(msg.data)
            kind = frame["type"]
            if kind == "ack":
                future = self.acks.pop(frame["client_id"], None)
                if future is not None and not future.done():
                    future.set_result(frame)
                if frame["client_id"] in self.stats.send_at:
                    self.stats.message_of[frame["message_id"]] = frame["client_id"]
            elif kind == "message" and frame["message"]["direction"] == "out":
                token = frame["message"]["text"].rpartition(" ")[2]
                self.stats.reply_seen.setdefault(token, now)
            elif kind == "error":
                self.stats.errors.append(f"visitor {self.index}: {frame.get('detail')}")


class AgentClient:
    def __init__(self, index: int, token: str, http: aiohttp.ClientSession, base: str, stats: Stats) -> None:
        self.index = index
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = http
        self.base = base
        self.stats = stats
        self.replies: set[asyncio.Task[None]] = set()

    async def listen(self, ws: aiohttp.ClientWebSocketResponse, reply_ratio: float) -> None:
        rng = random.Random(self.index)
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            frame = json.loads(msg.data)
            if frame["type"] != "event" or frame["event"]["type"] != "message.received":
                continue
            event = frame["event"]
            message_id = event["data"]["message_id"]
            self.stats.agent_seen.setdefault(message_id, now)
            if self.stats.measuring and rng.random() < reply_ratio:
                task = asyncio.create_task(self.reply(event["conversation_id"], message_id))
                self.replies.add(task)
                task.add_done_callback(self.replies.discard)

    async def reply(self, conversation_id: int, message_id: int) -> None:
        token = f"r{message_id}"
        self.stats.reply_started[token] = time.monotonic()
        url = f"{self.base}/api/v1/conversations/{conversation_id}/messages"
        async with self.http.post(url, json={"body": f"Antwort {token}"}, headers=self.headers) as resp:
            if resp.status != 201:
                self.stats.errors.append(f"agent {self.index}: reply answered {resp.status}")
            await resp.read()


def percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"count": len(ordered), "p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = f"http://127.0.0.1:{args.port}"
    channel = args.channel
    tokens: list[str] = list(args.agent_tokens)
    supervisor = {"Authorization": f"Bearer {tokens.pop()}"}
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.monotonic()

        async def session(_: int) -> str:
            async with http.post(f"{base}/widget/{channel}/sessions", json={"locale": "de"},
                                 headers={"Origin": ORIGIN}) as resp:
                body = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"session: {resp.status} {body}")
                return str(body["token"])

        visitor_tokens = await gather_limited([session(i) for i in range(args.visitors)], 50)

        async def connect(index: int, token: str) -> VisitorClient:
            ws = await http.ws_connect(f"{base}/widget/{channel}/ws", headers={"Origin": ORIGIN}, heartbeat=None)
            await ws.send_str(json.dumps({"type": "hello", "token": token}))
            ready = json.loads((await ws.receive()).data)
            if ready["type"] != "ready":
                raise RuntimeError(f"visitor {index}: {ready}")
            return VisitorClient(index, ws, stats)

        visitors = await gather_limited([connect(i, t) for i, t in enumerate(visitor_tokens)], 50)
        readers = [asyncio.create_task(v.read()) for v in visitors]
        agents = [AgentClient(i, t, http, base, stats) for i, t in enumerate(tokens)]
        agent_sockets = [await http.ws_connect(f"{base}/ws", headers=a.headers) for a in agents]
        for ws in agent_sockets:
            hello = json.loads((await ws.receive()).data)
            assert hello["type"] == "hello", hello
        listeners = [asyncio.create_task(a.listen(ws, args.reply_ratio)) for a, ws in zip(agents, agent_sockets, strict=True)]
        connected_at = time.monotonic()

        # Every visitor opens a conversation; it is assigned to an agent, as routing would.
        acks = await gather_limited([v.say("Hallo", wait=True) for v in visitors], 100)

        async def assign(index: int, ack: dict[str, Any]) -> None:
            agent_id = args.first_agent_id + index % len(agents)
            async with http.put(f"{base}/api/v1/conversations/{ack['conversation_id']}/assignee",
                                json={"agent_id": agent_id}, headers=supervisor) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"assign: {resp.status} {await resp.text()}")

        await gather_limited([assign(i, a) for i, a in enumerate(acks) if a is not None], 50)
        await asyncio.sleep(1.0)
        report: dict[str, Any] = {"setup_seconds": round(time.monotonic() - started, 1),
                                  "connect_seconds": round(connected_at - started, 1)}
        if args.ready_file:
            await asyncio.to_thread(Path(args.ready_file).write_text, "ready", encoding="utf-8")
            await asyncio.sleep(args.settle)

        stats.measuring = True
        measured_from = time.monotonic()

        async def chatter(visitor: VisitorClient) -> None:
            await asyncio.sleep(random.random() * args.interval)
            deadline = measured_from + args.seconds
            next_at = time.monotonic()
            while next_at < deadline:
                await visitor.say(f"Frage {visitor.sent}")
                next_at += args.interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        await asyncio.gather(*(chatter(v) for v in visitors))
        measured = time.monotonic() - measured_from
        stats.measuring = False
        await asyncio.sleep(args.drain)  # the last replies are still on their way
        for task in [*readers, *listeners]:
            task.cancel()
        for v in visitors:
            await v.ws.close()
        for ws in agent_sockets:
            await ws.close()

    inbound = [stats.agent_seen[m] - stats.send_at[c] for m, c in stats.message_of.items() if m in stats.agent_seen]
    outbound = [stats.reply_seen[t] - s for t, s in stats.reply_started.items() if t in stats.reply_seen]
    report.update({
        "visitors": len(visitors),
        "agents": len(agents),
        "measured_seconds": round(measured, 1),
        "visitor_messages": len(stats.send_at),
        "acked": len(stats.message_of),
        "seen_by_agents": sum(1 for m in stats.message_of if m in stats.agent_seen),
        "replies": len(stats.reply_started),
        "replies_seen_by_visitors": len(outbound),
        "visitor_to_agent": percentiles(inbound),
        "agent_to_visitor": percentiles(outbound),
        "errors": stats.errors[:20],
        "error_count": len(stats.errors),
    })
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--channel", default="bench-chat")
    parser.add_argument("--agents", required=True, help="JSON file: agent tokens, the last one a supervisor's")
    parser.add_argument("--first-agent-id", type=int, required=True)
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--reply-ratio", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--ready-file", default="")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    args.agent_tokens = json.loads(Path(args.agents).read_text(encoding="utf-8"))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    report = asyncio.run(run(args))
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
