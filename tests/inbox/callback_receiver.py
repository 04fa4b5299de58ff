"""A local HTTP server playing an API channel's callback receiver (an integrator's endpoint).

It verifies every request exactly as docs/channels/api.md tells integrators to —
written here independently of the hub's signing code — and records what arrived.
Tests script its answers (e.g. 503 with Retry-After, then 200).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

SECRET = "callback-signing-secret"
MAX_SKEW_SECONDS = 300


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class CallbackReceiver:
    """Records verified callbacks; answers from ``script`` first, then 200 with an id."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret.encode()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.rejected = 0
        self.script: list[Answer] = []
        self.always: Answer | None = None
        self.gate: asyncio.Event | None = None  # when set: hold each request until the gate opens
        self.in_flight = asyncio.Event()
        self.delay = 0.0
        self._changed = asyncio.Condition()
        self.url = ""

    def verify(self, request_headers: Any, body: bytes) -> bool:
        """The recipe from docs/channels/api.md."""
        timestamp = request_headers.get("X-Hub-Timestamp", "")
        signature = request_headers.get("X-Hub-Signature-256", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            return False
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verify(request.headers, body):
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        payload = json.loads(body)
        self.in_flight.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow integrator, so that concurrent sends overlap
        async with self._changed:
            self.received.append(payload)
            self.headers.append(dict(request.headers))
            self._changed.notify_all()
        answer = self.script.pop(0) if self.script else self.always
        if answer is not None:
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        return web.json_response({"id": f"cb-{payload['id']}"})

    async def wait_for(self, count: int, within: float = 20.0) -> list[dict[str, Any]]:
        """Wait until ``count`` callbacks arrived (fails the test after ``within`` seconds)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    def ids(self) -> list[str]:
        return [str(p["id"]) for p in self.received]


@asynccontextmanager
async def running_receiver(secret: str = SECRET) -> AsyncIterator[CallbackReceiver]:
    """A receiver on 127.0.0.1; its URL is ``receiver.url``."""
    receiver = CallbackReceiver(secret)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    try:
        yield receiver
    finally:
        if receiver.gate is not None:
            receiver.gate.set()
        await server.close()
