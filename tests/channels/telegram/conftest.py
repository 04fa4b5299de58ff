"""A hub with a Telegram bot channel whose Bot API is a local stub."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig
from tests.channels.hub_app import running_hub
from tests.channels.provider_stub import ProviderStub, Recorded, running

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "tg-webhook-secret_0123456789"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF"
FILES = {
    "AgACAgIAAxkBAAIBZ2large": ("photos/file_1.jpg", JPEG),
    "BQACAgIAAxkBAAIBaGdocument": ("documents/file_2.pdf", PDF),
}


def bot_api() -> ProviderStub:
    """Speaks the Bot API methods the hub calls, under /bot<token>/ and /file/bot<token>/."""
    stub = ProviderStub()
    serial = itertools.count(500)

    async def get_file(request: web.Request, recorded: Recorded) -> web.Response:
        file_id = recorded.json["file_id"]
        path, content = FILES[file_id]
        return web.json_response({"ok": True, "result": {
            "file_id": file_id, "file_unique_id": "u" + file_id[-6:], "file_size": len(content), "file_path": path,
        }})

    async def sent(request: web.Request, recorded: Recorded) -> web.Response:
        return web.json_response({"ok": True, "result": {
            "message_id": next(serial), "date": 1441650000, "chat": {"id": 1111111, "type": "private"},
        }})

    async def ok(request: web.Request, recorded: Recorded) -> web.Response:
        return web.json_response({"ok": True, "result": True})

    for method, handler in (("getFile", get_file), ("sendMessage", sent), ("sendPhoto", sent),
                            ("sendDocument", sent), ("answerCallbackQuery", ok), ("setWebhook", ok)):
        stub.route("POST", f"/bot{TOKEN}/{method}", handler)
    for path, content in FILES.values():
        async def download(request: web.Request, recorded: Recorded, content: bytes = content) -> web.Response:
            return web.Response(body=content, content_type="application/octet-stream")
        stub.route("GET", f"/file/bot{TOKEN}/{path}", download)
    return stub


def method(name: str) -> str:
    return f"/bot{TOKEN}/{name}"


@pytest.fixture
async def telegram() -> AsyncIterator[ProviderStub]:
    async with running(bot_api()) as stub:
        yield stub


def telegram_channel(api_url: str, **extra: Any) -> ChannelConfig:
    return ChannelConfig(
        type="telegram", name="tg-shop", queue="support",
        options={"bot_token": TOKEN, "secret_token": SECRET, "api_url": api_url, **extra},
    )


@pytest.fixture
async def telegram_client(
    database_url: str, tmp_path: Path, telegram: ProviderStub
) -> AsyncIterator[TestClient[Any, Any]]:
    async with running_hub(database_url, tmp_path / "data", telegram_channel(telegram.url)) as client:
        yield client


async def deliver(client: TestClient[Any, Any], body: bytes, secret: str | None = SECRET, name: str = "tg-shop") -> Any:
    """POST an update as Telegram does: JSON with the secret token header."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return await client.post(f"/webhooks/telegram/{name}", data=body, headers=headers)


def changed(body: bytes, **fields: Any) -> bytes:
    data = json.loads(body)
    data.update(fields)
    return json.dumps(data).encode()
