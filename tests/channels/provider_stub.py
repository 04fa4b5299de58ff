"""A local HTTP server standing in for a provider's API: it records every request and
answers from per-route handlers that speak the provider's documented API, or from
a script of canned answers (a 429 with Retry-After, a 500) queued by a test.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    content_type: str
    # The ``{placeholders}`` of the route pattern that matched (``route("POST", "/Calls/{sid}.json")``).
    params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Canned:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if isinstance(self.body, bytes):
            return web.Response(status=self.status, body=self.body, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]


class ProviderStub:
    """Routes by (method, path); ``script[path]`` answers first, in order.

    A path with ``{name}`` placeholders matches one path segment per placeholder; the
    values are in ``Recorded.params``. Exact paths win over patterns.
    """

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Recorded] = []
        self.script: dict[str, list[Canned]] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Handler]] = []
        self._changed = asyncio.Condition()

    def route(self, method: str, path: str, handler: Handler) -> None:
        if "{" not in path:
            self._handlers[(method, path)] = handler
            return
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", path)
        )
        self._patterns.append((method, re.compile(pattern + "$"), handler))

    def fail_next(self, path: str, *answers: Canned) -> None:
        self.script.setdefault(path, []).extend(answers)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int = 1, within: float = 15.0) -> list[Recorded]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.calls(path)) >= count)
        return self.calls(path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
            content_type=request.content_type,
        )
        async with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        queued = self.script.get(request.path)
        if queued:
            return queued.pop(0).response()
        handler = self._handlers.get((request.method, request.path))
        if handler is None:
            for method, pattern, candidate in self._patterns:
                found = pattern.match(request.path) if method == request.method else None
                if found is not None:
                    recorded.params = found.groupdict()
                    handler = candidate
                    break
        if handler is None:
            return web.json_response({"error": "no such route in the stub"}, status=404)
        return await handler(request, recorded)


@asynccontextmanager
async def running(stub: ProviderStub) -> AsyncIterator[ProviderStub]:
    """Serve ``stub`` on 127.0.0.1; its base URL is ``stub.url`` (no trailing slash)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stub.url = str(server.make_url("")).rstrip("/")
    try:
        yield stub
    finally:
        await server.close()
