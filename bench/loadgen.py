"""A lean HTTP/1.1 load generator: C keep-alive connections, one request in flight on each.

Runs as its own process (``bench/ingest.py`` starts it). Request bytes are built before
the clock starts; each connection is a bare asyncio ``Protocol`` on uvloop that writes
the next request as soon as the previous response is complete, so the client spends a
few microseconds per request and the server under test is what is measured.

Latency is measured per request from the write to the last byte of the response.
Writes one JSON object to ``--out`` (or stdout): figures plus the acknowledged ids.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import Item, build


def request_bytes(host: str, port: int, path: str, token: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 POST with a JSON body."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Phase:
    """Hands out request indices in ``[start, stop)`` and records each outcome."""

    def __init__(self, requests: list[bytes], start: int, stop: int) -> None:
        self.requests = requests
        self.next = start
        self.start = start
        self.stop = stop
        count = stop - start
        self.latency = array("d", bytes(8 * count))
        self.finished = array("d", bytes(8 * count))
        self.status = array("H", bytes(2 * count))
        self.duplicate = bytearray(count)
        self.done = 0
        self.all_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def take(self) -> int | None:
        if self.next >= self.stop:
            return None
        self.next += 1
        return self.next - 1

    def record(self, index: int, status: int, latency: float, now: float, duplicate: bool) -> None:
        slot = index - self.start
        self.latency[slot] = latency
        self.finished[slot] = now
        self.status[slot] = status
        self.duplicate[slot] = duplicate
        self.done += 1
        if self.done == self.stop - self.start and not self.all_done.done():
            self.all_done.set_result(None)


class Client(asyncio.Protocol):
    """One keep-alive connection that sends requests back to back."""

    def __init__(self, phase: Phase) -> None:
        self._phase = phase
        self._transport: Any = None  # uvloop's transport is not an asyncio.Transport subclass
        self._buffer = bytearray()
        self._index: int | None = None
        self._sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def send_next(self) -> None:
        self._index = self._phase.take()
        if self._index is not None:
            self._sent_at = time.perf_counter()
            self._transport.write(self._phase.requests[self._index])

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError("the server answered without Content-Length")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else len(head)])
        total = end + 4 + length
        if len(buffer) < total:
            return
        now = time.perf_counter()
        status = int(buffer[9:12])
        duplicate = buffer.find(b'"duplicate":true', end + 4, total) >= 0
        del buffer[:total]
        assert self._index is not None
        self._phase.record(self._index, status, now - self._sent_at, now, duplicate)
        self.send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._index is not None:  # a request was in flight: it failed
            now = time.perf_counter()
            self._phase.record(self._index, 0, now - self._sent_at, now, False)
            self._index = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def summarize(phase: Phase, items: list[Item], elapsed: float) -> dict[str, Any]:
    """Throughput, latency percentiles, errors and acknowledged ids of one phase."""
    count = phase.stop - phase.start
    ordered = sorted(phase.latency)
    ok = [i for i in range(count) if 200 <= phase.status[i] < 300]

    def pct(p: float) -> float:
        return ordered[min(count - 1, int(p * count))] * 1000 if count else 0.0

    per_second: list[int] = []
    if count:
        t0 = min(phase.finished)
        per_second = [0] * max(1, int(max(phase.finished) - t0))
        for t in phase.finished:
            slot = int(t - t0)
            if slot < len(per_second):
                per_second[slot] += 1
    statuses: dict[str, int] = {}
    for i in range(count):
        statuses[str(phase.status[i])] = statuses.get(str(phase.status[i]), 0) + 1
    return {
        "requests": count,
        "seconds": elapsed,
        "per_second": count / elapsed if elapsed else 0.0,
        "slowest_second": min(per_second) if per_second else 0,
        "per_second_series": per_second,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000 if ordered else 0.0,
        "errors": count - len(ok),
        "statuses": statuses,
        "duplicates_reported": sum(phase.duplicate),
        "acked_ids": sorted({items[phase.start + i].message_id for i in ok}),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Open the connections, send items ``[start, start + messages)``, report."""
    items = build(args.start + args.messages, seed=args.seed, prefix=args.prefix)
    host_header = str(args.port).split(",")[0]
    requests = [request_bytes(args.host, int(host_header), args.path, args.token, it.body) for it in items]
    phase = Phase(requests, args.start, args.start + args.messages)
    loop = asyncio.get_running_loop()
    ports = [int(p) for p in str(args.port).split(",")]
    clients: list[Client] = []
    for i in range(args.concurrency):  # spread over the ports like a round-robin balancer
        _, client = await loop.create_connection(lambda: Client(phase), args.host, ports[i % len(ports)])
        clients.append(client)
    cpu0 = time.process_time()
    wall0 = time.time()
    began = time.perf_counter()
    for client in clients:
        client.send_next()
    await phase.all_done
    elapsed = time.perf_counter() - began
    report = summarize(phase, items, elapsed)
    report.update(
        client_cpu_seconds=time.process_time() - cpu0,
        started_at=wall0,
        ended_at=time.time(),
        concurrency=args.concurrency,
    )
    for client in clients:
        client.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, help="a port, or several separated by commas")
    parser.add_argument("--path", default="/api/v1/channels/bench/messages")
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--start", type=int, default=0, help="skip this many items of the workload")
    parser.add_argument("--messages", type=int, default=20_000, help="send this many items after them")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefix", default="m")
    parser.add_argument("--out", help="write the JSON report here instead of stdout")
    args = parser.parse_args()
    text = json.dumps(uvloop.run(run(args)))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
