"""A hub with two Slack channels (two workspaces) whose Slack API is a local stub."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig
from tests.channels.fixtures import load
from tests.channels.hub_app import running_hub
from tests.channels.provider_stub import ProviderStub, Recorded, running

SECRET = "slack-signing-secret-acme"
OTHER_SECRET = "slack-signing-secret-other"
BOT_TOKEN = "xoxb-acme-test-token"
TEAM = "T061EG9R6"  # the workspace of the docs' examples
OTHER_TEAM = "T0OTHER00"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Slack sends them: ``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/json",
    }


def slack_api() -> ProviderStub:
    """Speaks the part of Slack's Web API the hub uses: users.info, chat.postMessage, file downloads."""
    stub = ProviderStub()
    serial = itertools.count(1)

    async def users_info(request: web.Request, recorded: Recorded) -> web.Response:
        answer = load("slack", "users_info_spengler.json")
        answer["user"]["id"] = request.query["user"]
        return web.json_response(answer)

    async def post_message(request: web.Request, recorded: Recorded) -> web.Response:
        sent = recorded.json
        n = next(serial)
        ts = f"{1700009000 + n}.{n:06d}"
        return web.json_response(
            {"ok": True, "channel": sent["channel"], "ts": ts, "message": {"type": "message", "text": sent["text"], "ts": ts}}
        )

    async def download(request: web.Request, recorded: Recorded) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.Response(status=403)
        return web.Response(body=PNG, content_type="image/png")

    stub.route("GET", "/api/users.info", users_info)
    stub.route("POST", "/api/chat.postMessage", post_message)
    stub.route("GET", "/files-pri/T061EG9R6-F0SCREEN1/download/screenshot.png", download)
    return stub


@pytest.fixture
async def slack() -> AsyncIterator[ProviderStub]:
    async with running(slack_api()) as stub:
        yield stub


def slack_channels(api_url: str) -> tuple[ChannelConfig, ...]:
    common = {"bot_token": BOT_TOKEN, "api_url": api_url + "/api/"}
    return (
        ChannelConfig(type="slack", name="slack-acme", queue="support",
                      options={**common, "signing_secret": SECRET, "team_id": TEAM}),
        ChannelConfig(type="slack", name="slack-other", queue="billing",
                      options={**common, "signing_secret": OTHER_SECRET, "team_id": OTHER_TEAM}),
    )


@pytest.fixture
async def slack_client(
    database_url: str, tmp_path: Path, slack: ProviderStub
) -> AsyncIterator[TestClient[Any, Any]]:
    async with running_hub(database_url, tmp_path / "data", *slack_channels(slack.url)) as client:
        yield client


async def deliver(client: TestClient[Any, Any], body: bytes, headers: dict[str, str] | None = None) -> Any:
    """POST ``body`` to the Events API route, signed with the acme secret unless ``headers`` say otherwise."""
    return await client.post("/webhooks/slack/events", data=body, headers=headers or sign(body))


def event(name: str, **changes: Any) -> bytes:
    """A fixture envelope with top-level fields changed (``event_id=...``), as bytes."""
    data = load("slack", name)
    data.update(changes)
    return json.dumps(data).encode()
