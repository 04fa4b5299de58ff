"""Replies through the Graph API: WhatsApp text, media and templates, the 24-hour window, Messenger tags."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.keys import ADAPTERS, SERVICES
from hub.db.models import Conversation
from hub.inbox import actions
from tests.channels.db import dispatcher, reply_state, supervisor
from tests.channels.fixtures import load, raw
from tests.channels.meta.conftest import ACCESS_TOKEN, PAGE, WA_NUMBER, deliver, now_text
from tests.channels.provider_stub import Canned, ProviderStub
from tests.factories import TestUser, create_user, services_of
from tests.inbox.outbound_env import FakeClock

WA_SEND = f"/v21.0/{WA_NUMBER}/messages"


async def conversation(client: TestClient[Any, Any], body: bytes) -> int:
    assert (await deliver(client, body)).status == 200
    async with client.app[SERVICES].sessions() as session:
        found = await session.scalar(select(Conversation.id).order_by(Conversation.id.desc()).limit(1))
    assert found is not None
    return found


async def agent(client: TestClient[Any, Any]) -> TestUser:
    return await create_user(services_of(client), role="agent", queues=["support"])


async def post(client: TestClient[Any, Any], user: TestUser, conversation_id: int, body: dict[str, Any]) -> Any:
    return await client.post(f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=user.headers)


async def send_due(client: TestClient[Any, Any], clock: FakeClock | None = None) -> FakeClock:
    worker, clock = dispatcher(client, clock)
    await worker.run_once()
    return clock


async def sent_ids(client: TestClient[Any, Any], ids: list[int]) -> dict[int, str]:
    """The provider ids of ``ids`` once the hub's dispatcher has recorded every send."""
    async with asyncio.timeout(15):
        while True:
            found = {i: (await reply_state(client, i))[0].provider_message_id for i in ids}
            if all(found.values()):
                return {i: str(v) for i, v in found.items()}
            await asyncio.sleep(0.02)


async def test_a_whatsapp_reply_goes_to_the_number_and_its_statuses_move_it_on(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    cid = await conversation(meta_client, now_text("whatsapp_text_message.json"))
    user = await agent(meta_client)
    ids = []
    for text in ("Yes: blue and green.", "Anything else?", "Bye"):
        resp = await post(meta_client, user, cid, {"body": text})
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["id"])
    calls = await graph.wait_for(WA_SEND, 3)  # the hub's own dispatcher sends them
    first = next(c for c in calls if c.json["text"]["body"] == "Yes: blue and green.")
    assert first.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert first.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
        "type": "text", "text": {"preview_url": False, "body": "Yes: blue and green."},
    }
    provider_ids = await sent_ids(meta_client, ids)
    body = raw("meta", "whatsapp_statuses.json", delivered_id=provider_ids[ids[0]], read_id=provider_ids[ids[1]],
               failed_id=provider_ids[ids[2]])
    assert (await deliver(meta_client, body)).status == 200
    states = [(await reply_state(meta_client, i))[0] for i in ids]
    assert [m.status for m in states] == ["delivered", "read", "failed"]
    assert states[2].error == "WhatsApp error 131026: Message undeliverable (Message Undeliverable.)"


async def test_after_24_hours_a_free_reply_is_409_and_a_template_goes_out(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    cid = await conversation(meta_client, raw("meta", "whatsapp_text_message.json", timestamp="1739321024"))
    user = await agent(meta_client)
    resp = await post(meta_client, user, cid, {"body": "Sorry for the wait!"})
    assert resp.status == 409
    problem = await resp.json()
    assert problem["code"] == "reply_window_closed"
    assert problem["detail"].startswith("outside the 24-hour window of channel 'wa-shop'")
    assert problem["last_customer_message_at"].startswith("2025-02-12T00:43:44")
    template = {"name": "order_update", "language": "en_US", "parameters": ["4711", "Sheena"]}
    resp = await post(meta_client, user, cid, {"template": template})
    assert resp.status == 201, await resp.text()
    (call,) = await graph.wait_for(WA_SEND)
    assert call.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
        "template": {
            "name": "order_update", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "4711"},
                                                           {"type": "text", "text": "Sheena"}]}],
        },
    }


async def test_a_whatsapp_attachment_is_uploaded_then_sent_by_its_id(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    cid = await conversation(meta_client, now_text("whatsapp_text_message.json"))
    pdf = {"filename": "offer.pdf", "content_type": "application/pdf",
           "content_base64": base64.b64encode(b"%PDF-1.7 offer").decode()}
    resp = await post(meta_client, await agent(meta_client), cid, {"body": "Our offer:", "attachments": [pdf]})
    assert resp.status == 201, await resp.text()
    calls = await graph.wait_for(WA_SEND, 2)
    (upload,) = graph.calls(f"/v21.0/{WA_NUMBER}/media")
    assert upload.content_type == "multipart/form-data"
    assert b'name="file"; filename="offer.pdf"' in upload.body and b"%PDF-1.7 offer" in upload.body
    assert b'name="messaging_product"' in upload.body
    assert calls[0].json["text"]["body"] == "Our offer:"
    assert calls[1].json["type"] == "document"
    assert calls[1].json["document"]["filename"] == "offer.pdf"
    assert calls[1].json["document"]["id"].startswith("uploaded-")


async def test_a_throttled_send_is_retried_and_a_closed_window_at_meta_is_a_dead_letter(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    cid = await conversation(meta_client, now_text("whatsapp_text_message.json"))
    services = meta_client.app[SERVICES]
    throttled = await actions.reply(services, await supervisor(meta_client), cid, "One", private=False, adapters=meta_client.app[ADAPTERS])
    graph.fail_next(WA_SEND, Canned(400, load("meta", "whatsapp_throughput_error.json")),
                    Canned(400, load("meta", "whatsapp_outside_window_error.json")))
    clock = await send_due(meta_client)
    message, outbox = await reply_state(meta_client, throttled.id)
    assert (message.status, outbox.state, outbox.attempts) == ("queued", "pending", 1)
    assert outbox.last_error == "Meta answered HTTP 400: (130429) (#130429) Rate limit hit"
    clock.advance(3600)
    await send_due(meta_client, clock)
    message, outbox = await reply_state(meta_client, throttled.id)
    assert (message.status, outbox.state) == ("failed", "dead")
    assert message.error is not None and message.error.startswith("outside the 24-hour window, Meta refused it")


async def test_messenger_replies_use_a_tag_after_the_window(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    old = raw("meta", "messenger_text_message.json", timestamp_ms=str(int((datetime.now(UTC) - timedelta(days=2)).timestamp() * 1000)))
    cid = await conversation(meta_client, old)
    user = await agent(meta_client)
    assert (await post(meta_client, user, cid, {"body": "Still there?"})).status == 409
    resp = await post(meta_client, user, cid, {"body": "Your repair is done.", "tag": "HUMAN_AGENT"})
    assert resp.status == 201, await resp.text()
    (call,) = await graph.wait_for(f"/v21.0/{PAGE}/messages")
    assert call.json == {
        "recipient": {"id": "6939283472883421"}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
        "message": {"text": "Your repair is done."},
    }
    assert (await post(meta_client, user, cid, {"body": "x", "tag": "NOT_A_TAG"})).status == 422
