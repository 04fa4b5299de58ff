"""Replies through the Messages API: status callbacks, segment limits, WhatsApp templates and window, errors."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.keys import ADAPTERS, SERVICES
from hub.db.models import Conversation, utcnow
from hub.errors import Conflict
from hub.inbox import actions
from hub.messages import Template
from tests.channels.db import dispatcher, reply_state, rows, supervisor
from tests.channels.twilio.conftest import (
    CUSTOMER,
    NUMBER,
    ORDER_UPDATE_DE,
    PUBLIC_URL,
    WA_NUMBER,
    deliver,
    incoming,
    status,
)
from tests.channels.twilio.twilio_api import TwilioApi, error
from tests.factories import TestUser, create_user, services_of
from tests.inbox.outbound_env import FakeClock


async def agent(client: TestClient[Any, Any]) -> TestUser:
    return await create_user(services_of(client), role="agent", queues=["support"])


async def conversation(client: TestClient[Any, Any], channel: str = "sms") -> int:
    if channel == "sms":
        params = incoming("SM" + "9" * 32, "Hallo?")
    else:
        params = incoming("SM" + "8" * 32, "Hallo?", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{WA_NUMBER}")
    assert (await deliver(client, channel, "messages", params)).status == 200
    found = await rows(client, select(Conversation.id).where(
        Conversation.channel_id == services_of(client).endpoints[channel].channel_id))
    return int(found[-1].id)


async def post(client: TestClient[Any, Any], user: TestUser, cid: int, body: dict[str, Any]) -> Any:
    return await client.post(f"/api/v1/conversations/{cid}/messages", json=body, headers=user.headers)


async def sent(client: TestClient[Any, Any], message_id: int, at: datetime | None = None) -> str:
    """The reply's Twilio SID once it is sent (by this dispatcher or the hub's own, woken by the reply)."""
    worker, _clock = dispatcher(client, FakeClock(at) if at is not None else None)
    await worker.run_once()
    async with asyncio.timeout(15):
        while True:
            message, outbox = await reply_state(client, message_id)
            if message.provider_message_id is not None or outbox.last_error or outbox.state == "dead":
                break
            await asyncio.sleep(0.02)
    assert outbox.state == "done", outbox.last_error
    assert message.provider_message_id is not None
    return message.provider_message_id


async def test_an_sms_reply_goes_out_with_the_status_callback_and_statuses_only_move_forward(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    cid = await conversation(twilio_client)
    resp = await post(twilio_client, await agent(twilio_client), cid, {"body": "Ihr Paket kommt morgen."})
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    sid = await sent(twilio_client, message_id)
    (call,) = api.calls(api.messages_path)
    assert call.form == {"To": CUSTOMER, "From": NUMBER, "Body": "Ihr Paket kommt morgen.",
                         "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/sms/status"}
    assert sid.startswith("SM") and sid in api.messages
    for state, expected in (("sent", "sent"), ("queued", "sent"), ("delivered", "delivered"), ("sent", "delivered"),
                            ("undelivered", "delivered")):
        assert (await deliver(twilio_client, "sms", "status", status(sid, state))).status == 200
        assert (await reply_state(twilio_client, message_id))[0].status == expected


async def test_a_failed_status_keeps_twilios_error_code(twilio_client: TestClient[Any, Any], api: TwilioApi) -> None:
    cid = await conversation(twilio_client)
    resp = await post(twilio_client, await agent(twilio_client), cid, {"body": "Hallo"})
    message_id = (await resp.json())["id"]
    sid = await sent(twilio_client, message_id)
    await deliver(twilio_client, "sms", "status", status(sid, "sent"))
    await deliver(twilio_client, "sms", "status", status(sid, "undelivered", ErrorCode="30003"))
    message = (await reply_state(twilio_client, message_id))[0]
    assert (message.status, message.error) == ("failed", "Twilio error 30003: undelivered")
    await deliver(twilio_client, "sms", "status", status(sid, "delivered"))  # too late: failed is final
    assert (await reply_state(twilio_client, message_id))[0].status == "failed"


async def test_a_status_callback_is_signed_too(twilio_client: TestClient[Any, Any]) -> None:
    resp = await deliver(twilio_client, "sms", "status", status("SM" + "1" * 32, "delivered"), token="wrong")
    assert resp.status == 403


async def test_an_unknown_or_untracked_status_is_acknowledged(twilio_client: TestClient[Any, Any]) -> None:
    assert (await deliver(twilio_client, "sms", "status", status("SM" + "1" * 32, "delivered"))).status == 200
    assert (await deliver(twilio_client, "sms", "status", status("SM" + "1" * 32, "receiving"))).status == 200
    bad = [(k, v) for k, v in status("SM" + "1" * 32, "sent") if k not in ("MessageStatus", "SmsStatus")]
    assert (await deliver(twilio_client, "sms", "status", bad)).status == 422


@pytest.mark.parametrize(
    ("text", "segments", "encoding"),
    [("a" * 1531, 11, "GSM-7"), ("€" * 766, 11, "GSM-7"), ("ž" * 671, 11, "UCS-2"), ("😀" * 336, 11, "UCS-2")],
)
async def test_an_sms_longer_than_the_segment_limit_is_refused_before_it_is_stored(
    twilio_client: TestClient[Any, Any], api: TwilioApi, text: str, segments: int, encoding: str
) -> None:
    cid = await conversation(twilio_client)
    resp = await post(twilio_client, await agent(twilio_client), cid, {"body": text})
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert (problem["code"], problem["segments"], problem["encoding"]) == ("text_too_long", segments, encoding)
    assert api.calls(api.messages_path) == []


async def test_an_sms_within_the_limit_goes_out_in_one_request(twilio_client: TestClient[Any, Any], api: TwilioApi) -> None:
    cid = await conversation(twilio_client)
    text = "Grüße aus Köln! " * 95  # 1520 GSM-7 characters: 10 segments, Twilio concatenates them
    resp = await post(twilio_client, await agent(twilio_client), cid, {"body": text})
    assert resp.status == 201, await resp.text()
    await sent(twilio_client, (await resp.json())["id"])
    (call,) = api.calls(api.messages_path)
    assert call.form["Body"] == text
    assert api.messages[next(iter(api.messages))]["num_segments"] == "10"


async def test_a_throttled_send_is_retried_and_a_refused_number_fails_with_twilios_code(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    cid = await conversation(twilio_client)
    services = twilio_client.app[SERVICES]
    reply = await actions.reply(services, await supervisor(twilio_client), cid, "Eins", private=False,
                                adapters=twilio_client.app[ADAPTERS])
    api.fail_next(api.messages_path, error(429, 20429, "Too Many Requests", {"Retry-After": "30"}),
                  error(400, 21211, "Invalid 'To' Phone Number: +49151XXXX5678"))
    worker, clock = dispatcher(twilio_client)
    await worker.run_once()
    message, outbox = await reply_state(twilio_client, reply.id)
    assert (message.status, outbox.state, outbox.attempts) == ("queued", "pending", 1)
    assert outbox.last_error == "Twilio send answered HTTP 429: (20429) Too Many Requests"
    assert outbox.next_attempt_at >= clock.now + timedelta(seconds=29)
    clock.advance(3600)
    await worker.run_once()
    message, outbox = await reply_state(twilio_client, reply.id)
    assert (message.status, outbox.state) == ("failed", "dead")
    assert message.error == "Twilio send answered HTTP 400: (21211) Invalid 'To' Phone Number: +49151XXXX5678"


async def test_whatsapp_free_text_inside_the_window_and_a_template_outside(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    cid = await conversation(twilio_client, "wa")
    user = await agent(twilio_client)
    resp = await post(twilio_client, user, cid, {"body": "Gern!"})
    assert resp.status == 201, await resp.text()
    await sent(twilio_client, (await resp.json())["id"])
    (call,) = api.calls(api.messages_path)
    assert call.form == {"To": f"whatsapp:{CUSTOMER}", "From": f"whatsapp:{WA_NUMBER}", "Body": "Gern!",
                         "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/wa/status"}

    services = twilio_client.app[SERVICES]
    later = utcnow() + timedelta(hours=25)
    with pytest.raises(Conflict) as closed:
        await actions.reply(services, await supervisor(twilio_client), cid, "Noch da?", private=False,
                            adapters=twilio_client.app[ADAPTERS], now=later)
    assert closed.value.extra["code"] == "reply_window_closed" and closed.value.extra["templates"] is True
    template = {"name": "order_update", "language": "de", "parameters": ["4711", "Lena"]}
    reply = await actions.reply(services, await supervisor(twilio_client), cid, "", private=False,
                                adapters=twilio_client.app[ADAPTERS], now=later,
                                template=Template(template["name"], template["language"], tuple(template["parameters"])))
    await sent(twilio_client, reply.id, at=later + timedelta(seconds=1))
    last = api.calls(api.messages_path)[-1]
    assert last.form == {"To": f"whatsapp:{CUSTOMER}", "From": f"whatsapp:{WA_NUMBER}", "ContentSid": ORDER_UPDATE_DE,
                         "ContentVariables": json.dumps({"1": "4711", "2": "Lena"}),
                         "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/wa/status"}


async def test_an_unknown_template_is_422_for_the_agent(twilio_client: TestClient[Any, Any], api: TwilioApi) -> None:
    cid = await conversation(twilio_client, "wa")
    resp = await post(twilio_client, await agent(twilio_client), cid,
                      {"template": {"name": "black_friday", "language": "en"}})
    assert resp.status == 422
    problem = await resp.json()
    assert problem["code"] == "unknown_template"
    assert "known: order_update, order_update@de" in problem["detail"]
    assert (await post(twilio_client, await agent(twilio_client), await conversation(twilio_client),
                       {"template": {"name": "order_update", "language": "de"}})).status == 422  # SMS has none
    assert api.calls(api.messages_path) == []


async def test_a_whatsapp_read_report_moves_the_reply_to_read(twilio_client: TestClient[Any, Any], api: TwilioApi) -> None:
    cid = await conversation(twilio_client, "wa")
    resp = await post(twilio_client, await agent(twilio_client), cid, {"body": "Gern!"})
    message_id = (await resp.json())["id"]
    sid = await sent(twilio_client, message_id)
    for state in ("read", "delivered"):
        await deliver(twilio_client, "wa", "status", status(sid, state, to=f"whatsapp:{CUSTOMER}"))
    assert (await reply_state(twilio_client, message_id))[0].status == "read"
