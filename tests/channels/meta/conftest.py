"""A hub with WhatsApp numbers, a Messenger page and an Instagram account of one Meta app,
whose Graph API (and CDN) is a local stub."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig
from tests.channels.fixtures import raw
from tests.channels.hub_app import running_hub
from tests.channels.provider_stub import ProviderStub, Recorded, running

APP_SECRET = "meta-app-secret-0123456789abcdef"
VERIFY_TOKEN = "meta-verify-token-42"
ACCESS_TOKEN = "EAAG-test-access-token"
WA_NUMBER = "106540352242922"
WA_SECOND = "106540352242923"
PAGE = "682498302938465"
IG = "17841405822304914"
IMAGE = b"\xff\xd8\xff\xe0" + b"WA-IMAGE" * 8  # its SHA-256 is in whatsapp_image_message.json
CDN_IMAGE = b"\xff\xd8\xff\xe0" + b"CDN" * 10
MEDIA_ID = "1003383421387256"


def graph_api() -> ProviderStub:
    """The Graph API calls the hub makes, under /v21.0/, plus the media hosts."""
    stub = ProviderStub()
    serial = itertools.count(1)

    async def whatsapp_send(request: web.Request, recorded: Recorded) -> web.Response:
        to = recorded.json["to"]
        return web.json_response({
            "messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.OUT{next(serial)}"}],
        })

    async def whatsapp_upload(request: web.Request, recorded: Recorded) -> web.Response:
        return web.json_response({"id": f"uploaded-{next(serial)}"})

    async def media_info(request: web.Request, recorded: Recorded) -> web.Response:
        return web.json_response({
            "messaging_product": "whatsapp", "url": f"{stub.url}/whatsapp_business/attachments/?mid={MEDIA_ID}",
            "mime_type": "image/jpeg", "sha256": hashlib.sha256(IMAGE).hexdigest(), "file_size": str(len(IMAGE)),
            "id": MEDIA_ID,
        })

    async def media_download(request: web.Request, recorded: Recorded) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return web.Response(status=401)
        return web.Response(body=IMAGE, content_type="image/jpeg")

    async def cdn(request: web.Request, recorded: Recorded) -> web.Response:
        return web.Response(body=CDN_IMAGE, content_type="image/jpeg")

    async def messenger_send(request: web.Request, recorded: Recorded) -> web.Response:
        return web.json_response({"recipient_id": "6939283472883421", "message_id": f"m_OUT{next(serial)}"})

    for number in (WA_NUMBER, WA_SECOND):
        stub.route("POST", f"/v21.0/{number}/messages", whatsapp_send)
        stub.route("POST", f"/v21.0/{number}/media", whatsapp_upload)
    stub.route("GET", f"/v21.0/{MEDIA_ID}", media_info)
    stub.route("GET", "/whatsapp_business/attachments/", media_download)
    stub.route("GET", "/v/t1.15752-9/photo.jpg", cdn)
    for account in (PAGE, IG):
        stub.route("POST", f"/v21.0/{account}/messages", messenger_send)
    return stub


@pytest.fixture
async def graph() -> AsyncIterator[ProviderStub]:
    async with running(graph_api()) as stub:
        yield stub


def meta_channels(graph_url: str) -> tuple[ChannelConfig, ...]:
    common = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": ACCESS_TOKEN, "graph_url": graph_url}
    return (
        ChannelConfig(type="meta", name="wa-shop", queue="support",
                      options={**common, "platform": "whatsapp", "phone_number_id": WA_NUMBER}),
        ChannelConfig(type="meta", name="wa-billing", queue="billing",
                      options={**common, "platform": "whatsapp", "phone_number_id": WA_SECOND}),
        ChannelConfig(type="meta", name="fb-page", queue="support",
                      options={**common, "platform": "messenger", "page_id": PAGE}),
        ChannelConfig(type="meta", name="ig-shop", queue="support",
                      options={**common, "platform": "instagram", "instagram_id": IG}),
    )


@pytest.fixture
async def meta_client(database_url: str, tmp_path: Path, graph: ProviderStub) -> AsyncIterator[TestClient[Any, Any]]:
    async with running_hub(database_url, tmp_path / "data", *meta_channels(graph.url)) as client:
        yield client


def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """Headers as Meta sends them: ``sha256=`` HMAC-SHA256 of the raw body with the app secret."""
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def deliver(client: TestClient[Any, Any], body: bytes, headers: dict[str, str] | None = None) -> Any:
    return await client.post("/webhooks/meta", data=body, headers=sign(body) if headers is None else headers)


def now_text(name: str, **values: str) -> bytes:
    """A fixture whose ``{timestamp}`` / ``{timestamp_ms}`` is now (inside the 24-hour window)."""
    stamp = int(time.time())
    return raw("meta", name, timestamp=str(stamp), timestamp_ms=str(stamp * 1000), **values)
