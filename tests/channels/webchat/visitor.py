"""A scripted widget: sessions over HTTP, then the visitor websocket, as the browser script does."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.channels.webchat.conftest import SITE

Client = TestClient[Any, Any]
WAIT = 10.0
ORIGIN = {"Origin": SITE}


async def start_session(client: Client, channel: str = "site-chat", **body: Any) -> dict[str, Any]:
    resp = await client.post(f"/widget/{channel}/sessions", json=body, headers=ORIGIN)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


class Visitor:
    """One widget's socket: send frames, wait for the ones you expect."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ready: dict[str, Any], token: str = "") -> None:
        self.ws = ws
        self.token = token
        self.ready = ready
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, client: Client, token: str, channel: str = "site-chat") -> Visitor:
        ws = await client.ws_connect(f"/widget/{channel}/ws", headers=ORIGIN)
        await ws.send_json({"type": "hello", "token": token})
        visitor = cls(ws, {}, token)
        visitor.ready = await visitor.expect(lambda f: f["type"] == "ready")
        return visitor

    async def say(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text})
        return await self.expect(lambda f: f.get("client_id") == client_id and f["type"] in ("ack", "error"))

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            msg = await self.ws.receive()
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        self.seen.append(frame)
        return frame

    async def expect(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            frame = await self.receive()
            if match(frame):
                return frame

    async def close(self) -> None:
        await self.ws.close()
