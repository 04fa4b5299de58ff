"""Replies to Slack conversations: chat.postMessage in the thread, rate limits, long text in parts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.keys import ADAPTERS, SERVICES
from hub.db.models import Conversation
from hub.inbox import actions
from tests.channels.db import dispatcher, reply_state, supervisor
from tests.channels.fixtures import load, raw
from tests.channels.provider_stub import Canned, ProviderStub, Recorded
from tests.channels.slack.conftest import BOT_TOKEN, deliver
from tests.factories import create_user
from tests.inbox.outbound_env import FakeClock

POST = "/api/chat.postMessage"


async def conversation_of(client: TestClient[Any, Any], fixture: str) -> int:
    assert (await deliver(client, raw("slack", fixture))).status == 200
    async with client.app[SERVICES].sessions() as session:
        return int(await session.scalar(select(Conversation.id).order_by(Conversation.id.desc()).limit(1)) or 0)


async def test_a_reply_in_a_direct_message_goes_out_with_chat_post_message(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    conversation_id = await conversation_of(slack_client, "message_im.json")
    agent = await create_user(slack_client.app[SERVICES], role="agent", queues=["support"])
    resp = await slack_client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Yes, loud and clear."},
        headers=agent.headers,
    )
    assert resp.status == 201, await resp.text()
    (call,) = await slack.wait_for(POST)
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.json == {"channel": "D024BE91L", "text": "Yes, loud and clear."}  # a DM: no thread
    message_id = (await resp.json())["id"]
    for _ in range(200):  # the app's dispatcher records the outcome right after the call
        message, _outbox = await reply_state(slack_client, message_id)
        if message.status == "sent":
            break
        await asyncio.sleep(0.02)
    assert message.status == "sent"
    assert message.provider_message_id is not None and message.provider_message_id.startswith("D024BE91L:")


async def test_a_reply_in_a_shared_channel_goes_into_the_thread(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    conversation_id = await conversation_of(slack_client, "shared_channel_root_message.json")
    boss = await supervisor(slack_client)
    await actions.reply(slack_client.app[SERVICES], boss, conversation_id, "We are checking the mail server.",
                        private=False, adapters=slack_client.app[ADAPTERS])
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    assert await dispatcher(slack_client, clock)[0].run_once() == 1
    (call,) = slack.calls(POST)
    assert call.json == {
        "channel": "C0SHARED1", "text": "We are checking the mail server.", "thread_ts": "1700000000.000100",
    }


async def test_a_429_waits_for_retry_after_then_sends(slack_client: TestClient[Any, Any], slack: ProviderStub) -> None:
    conversation_id = await conversation_of(slack_client, "message_im.json")
    reply = await actions.reply(slack_client.app[SERVICES], await supervisor(slack_client), conversation_id,
                                "One moment please.", private=False, adapters=slack_client.app[ADAPTERS])
    slack.fail_next(POST, Canned(429, load("slack", "rate_limited.json"), {"Retry-After": "30"}))
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    worker = dispatcher(slack_client, clock)[0]
    assert await worker.run_once() == 1
    message, outbox = await reply_state(slack_client, reply.id)
    assert (message.status, outbox.state, outbox.attempts) == ("queued", "pending", 1)
    assert outbox.next_attempt_at == clock.now + timedelta(seconds=30)
    assert outbox.last_error == "Slack answered HTTP 429: ratelimited"
    clock.advance(29)
    assert await worker.run_once() == 0
    clock.advance(1)
    assert await worker.run_once() == 1
    message, outbox = await reply_state(slack_client, reply.id)
    assert (message.status, outbox.state) == ("sent", "done")
    assert len(slack.calls(POST)) == 2


async def test_a_long_reply_goes_in_parts_and_a_retry_resumes_after_the_sent_ones(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    conversation_id = await conversation_of(slack_client, "message_im.json")
    first, second = "a" * 3000, "b" * 2000
    reply = await actions.reply(slack_client.app[SERVICES], await supervisor(slack_client), conversation_id,
                                f"{first}\n\n{second}", private=False, adapters=slack_client.app[ADAPTERS])
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    worker = dispatcher(slack_client, clock)[0]
    slack.fail_next(POST, Canned(200, {"ok": True, "channel": "D024BE91L", "ts": "1700009999.000001"}),
                    Canned(500, {"ok": False, "error": "internal_error"}))
    await worker.run_once()
    message, outbox = await reply_state(slack_client, reply.id)
    assert (outbox.state, outbox.parts_sent, message.provider_message_id) == ("pending", 1, "D024BE91L:1700009999.000001")
    clock.advance(3600)
    await worker.run_once()
    texts = [call.json["text"] for call in slack.calls(POST)]
    assert texts == [first, second, second]  # the first part was not sent again
    message, outbox = await reply_state(slack_client, reply.id)
    assert (message.status, outbox.state, message.provider_message_id) == ("sent", "done", "D024BE91L:1700009999.000001")


async def test_a_refused_message_is_a_dead_letter_at_once(slack_client: TestClient[Any, Any], slack: ProviderStub) -> None:
    conversation_id = await conversation_of(slack_client, "message_im.json")
    reply = await actions.reply(slack_client.app[SERVICES], await supervisor(slack_client), conversation_id,
                                "Hello?", private=False, adapters=slack_client.app[ADAPTERS])
    slack.fail_next(POST, Canned(200, {"ok": False, "error": "channel_not_found"}))
    await dispatcher(slack_client)[0].run_once()
    message, outbox = await reply_state(slack_client, reply.id)
    assert (message.status, outbox.state) == ("failed", "dead")
    assert message.error == "Slack answered HTTP 200: channel_not_found"


async def test_replies_of_one_conversation_go_out_one_after_the_other(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    conversation_id = await conversation_of(slack_client, "message_im.json")
    boss = await supervisor(slack_client)
    for text in ("first", "second", "third"):
        await actions.reply(slack_client.app[SERVICES], boss, conversation_id, text, private=False,
                            adapters=slack_client.app[ADAPTERS])
    spans: list[tuple[str, float, float]] = []

    async def slow(request: web.Request, recorded: Recorded) -> web.Response:
        started = time.monotonic()
        await asyncio.sleep(0.05)
        spans.append((recorded.json["text"], started, time.monotonic()))
        return web.json_response({"ok": True, "channel": "D024BE91L", "ts": f"{started:.6f}"})

    slack.route("POST", POST, slow)
    assert await dispatcher(slack_client)[0].run_once() == 3
    assert [text for text, _, _ in spans] == ["first", "second", "third"]
    assert all(spans[i][2] <= spans[i + 1][1] for i in range(2))  # never two in flight at once
