"""The public endpoints refuse floods and bad input with 4xx, and store nothing then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.api.widget_shared import WIDGET_LIMITS
from hub.auth.ratelimit import RedisCounters
from hub.db.models import Message, WebchatVisitor
from hub.webchat.limits import WidgetLimits
from tests.channels.webchat.conftest import chat_channel, chat_settings
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import services_of
from tests.services import REDIS_URL

Client = TestClient[Any, Any]


async def count(client: Client, model: Any) -> int:
    async with services_of(client).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_messages_beyond_the_per_minute_limit_are_refused_and_not_stored(client: Client) -> None:
    visitor = await Visitor.connect(client, (await start_session(client))["token"])
    for n in range(5):
        assert (await visitor.say(f"message {n}"))["type"] == "ack"
    refused = await visitor.say("one too many")
    assert refused["type"] == "error" and refused["status"] == 429 and refused["retry_after"] > 0
    assert await count(client, Message) == 5
    await visitor.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Any:
    return chat_settings(database_url, tmp_path / "data", chat_channel(sessions_per_ip_per_hour=3))


async def test_new_sessions_per_address_are_limited(client: Client) -> None:
    for _ in range(3):
        await start_session(client)
    resp = await client.post("/widget/site-chat/sessions", json={}, headers=ORIGIN)
    assert resp.status == 429
    assert resp.content_type == "application/problem+json"
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.headers["Access-Control-Allow-Origin"] == "http://shop.test"  # the widget can read why
    assert await count(client, WebchatVisitor) == 3


async def test_the_session_limit_is_shared_through_redis(settings: Any, redis_prefix: str) -> None:
    # Two hub processes behind a load balancer share the counter.
    apps = []
    for _ in range(2):
        app = create_app(settings)
        app[WIDGET_LIMITS] = WidgetLimits(RedisCounters(REDIS_URL, prefix=redis_prefix, what="chat rate limit"))
        apps.append(app)
    async with TestClient(TestServer(apps[0])) as one, TestClient(TestServer(apps[1])) as two:
        await start_session(one)
        await start_session(two)
        await start_session(one)
        resp = await two.post("/widget/site-chat/sessions", json={}, headers=ORIGIN)
        assert resp.status == 429


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"unknown": 1}', 422),
        (b'{"prechat": {"shoe_size": "42"}}', 422),
        (b'{"prechat": {"email": "not-an-address"}}', 422),
        (b'{"prechat": {"name": "A\\u0000B"}}', 422),
        (b'{"locale": 5}', 422),
        (b'{"identity": {"user_id": "42", "timestamp": 1, "signature": "xyz"}}', 422),
    ],
)
async def test_a_bad_session_request_is_a_problem_and_stores_nothing(client: Client, body: bytes, status: int) -> None:
    resp = await client.post(
        "/widget/site-chat/sessions", data=body, headers={**ORIGIN, "Content-Type": "application/json"}
    )
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert await count(client, WebchatVisitor) == 0


async def test_a_required_prechat_field_must_be_given(database_url: str, tmp_path: Path) -> None:
    channel = chat_channel(prechat=[{"name": "email", "required": True}])
    async with TestClient(TestServer(create_app(chat_settings(database_url, tmp_path / "d", channel)))) as c:
        resp = await c.post("/widget/site-chat/sessions", json={"prechat": {}}, headers=ORIGIN)
        assert resp.status == 422 and "required" in (await resp.json())["detail"]
        ok = await c.post("/widget/site-chat/sessions", json={"prechat": {"email": "A@B.de"}}, headers=ORIGIN)
        assert (await ok.json())["visitor"]["email"] == "a@b.de"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"type": "message", "client_id": "abcdefgh"}',
        '{"type": "message", "client_id": "short", "text": "hi"}',
        '{"type": "message", "client_id": "abcdefgh", "text": "   "}',
        '{"type": "message", "client_id": "abcdefgh", "text": "a\\u0000b"}',
        '{"type": "message", "client_id": "abcdefgh", "text": "' + "x" * 5001 + '"}',
        '{"type": "shout", "text": "hi"}',
        '{"type": "rate", "conversation_id": 1, "score": 9}',
    ],
)
async def test_a_bad_frame_is_answered_with_an_error_and_stores_nothing(client: Client, frame: str) -> None:
    visitor = await Visitor.connect(client, (await start_session(client))["token"])
    await visitor.ws.send_str(frame)
    error = await visitor.expect(lambda f: f["type"] == "error")
    assert error["status"] in (400, 422), error
    assert await count(client, Message) == 0
    assert (await visitor.say("still fine"))["type"] == "ack"  # the socket stays usable
    await visitor.close()


async def test_an_unknown_channel_is_404(client: Client) -> None:
    resp = await client.get("/widget/nope/config", headers=ORIGIN)
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await client.get("/widget/web-form/config", headers=ORIGIN)  # an API channel, not a chat
    assert resp.status == 404


async def test_a_socket_flooding_frames_is_closed(client: Client) -> None:
    visitor = await Visitor.connect(client, (await start_session(client))["token"])
    for _ in range(130):
        if visitor.ws.closed:
            break
        await visitor.ws.send_json({"type": "typing", "typing": False})
    while not visitor.ws.closed:
        await visitor.ws.receive()
    assert visitor.ws.close_code == 4429
