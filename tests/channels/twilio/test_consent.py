"""Opt-out and opt-in keywords on the consent ledger; HELP answered; sending to an opted-out number refused."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.db.models import ConsentRecord, Conversation, Message
from tests.channels.db import rows
from tests.channels.twilio.conftest import CUSTOMER, HELP_TEXT, WA_NUMBER, deliver, incoming
from tests.channels.twilio.twilio_api import TwilioApi
from tests.factories import TestUser, create_user, services_of

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>'


async def agent(client: TestClient[Any, Any]) -> TestUser:
    return await create_user(services_of(client), role="agent", queues=["support"])


async def conversation_of(client: TestClient[Any, Any], channel: str) -> int:
    found = await rows(client, select(Conversation.id).where(
        Conversation.channel_id == services_of(client).endpoints[channel].channel_id))
    return int(found[-1].id)


async def current(client: TestClient[Any, Any], user: TestUser, channel: str) -> dict[str, Any]:
    (contact,) = await rows(client, select(Conversation.contact_id).distinct())
    resp = await client.get(f"/api/v1/contacts/{contact.contact_id}/consents/current", headers=user.headers)
    assert resp.status == 200, await resp.text()
    states = (await resp.json())["items"]
    return {s["purpose"]: s["allowed"] for s in states if s["channel"] == channel}


@pytest.mark.parametrize("word", ["STOP", "stop", "  Stop \n", "STOPALL", "UNSUBSCRIBE", "cancel", "End", "QUIT",
                                  "REVOKE", "OptOut"])
async def test_an_opt_out_keyword_withdraws_sms_consent_and_replies_are_refused(
    twilio_client: TestClient[Any, Any], api: TwilioApi, word: str
) -> None:
    user = await agent(twilio_client)
    await deliver(twilio_client, "sms", "messages", incoming("SM" + "1" * 32, "Wann kommt das Paket?"))
    resp = await deliver(twilio_client, "sms", "messages", incoming("SM" + "2" * 32, word))
    assert resp.status == 200
    assert await resp.text() == TWIML.format("<Message>You are unsubscribed. Reply START to resubscribe.</Message>")
    (record,) = await rows(twilio_client, select(ConsentRecord))
    stop = record.ConsentRecord
    assert (stop.purpose, stop.channel, stop.granted, stop.source) == ("all", "sms", False, "sms_keyword")
    (message,) = await rows(twilio_client, select(Message.id).where(Message.provider_message_id == "SM" + "2" * 32))
    assert stop.evidence == {"message_id": message.id, "provider_message_id": "SM" + "2" * 32, "channel": "sms",
                             "keyword": word.strip().upper()}
    assert await current(twilio_client, user, "sms") == {"service": False, "marketing": False}
    assert await current(twilio_client, user, "whatsapp") == {"service": True, "marketing": False}

    cid = await conversation_of(twilio_client, "sms")
    resp = await twilio_client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Morgen."}, headers=user.headers)
    assert resp.status == 409
    problem = await resp.json()
    assert problem["code"] == "consent_withdrawn" and problem["channel"] == "sms"
    assert api.calls(api.messages_path) == []  # nothing reached Twilio


async def test_start_restores_service_messages_and_a_replay_records_once(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    user = await agent(twilio_client)
    await deliver(twilio_client, "sms", "messages", incoming("SM" + "1" * 32, "STOP"))
    for _ in range(2):
        resp = await deliver(twilio_client, "sms", "messages", incoming("SM" + "2" * 32, "unstop"))
        assert await resp.text() == TWIML.format("").replace("<Response></Response>", "<Response />")
    records = await rows(twilio_client, select(ConsentRecord.purpose, ConsentRecord.granted).order_by(ConsentRecord.id))
    assert [tuple(r) for r in records] == [("all", False), ("service", True)]
    assert await current(twilio_client, user, "sms") == {"service": True, "marketing": False}
    cid = await conversation_of(twilio_client, "sms")
    resp = await twilio_client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Willkommen zurück"},
                                    headers=user.headers)
    assert resp.status == 201, await resp.text()


async def test_help_is_answered_with_the_configured_text(twilio_client: TestClient[Any, Any]) -> None:
    for word in ("HELP", "info"):
        resp = await deliver(twilio_client, "sms", "messages", incoming("SM" + word.ljust(32, "0"), word))
        assert await resp.text() == TWIML.format(f"<Message>{HELP_TEXT}</Message>")
    assert await rows(twilio_client, select(ConsentRecord)) == []


@pytest.mark.parametrize("body", ["Stop it, please", "STOP STOP", "stopp", "Bitte nicht mehr schreiben: STOP"])
async def test_a_keyword_inside_a_sentence_is_an_ordinary_message(twilio_client: TestClient[Any, Any], body: str) -> None:
    resp = await deliver(twilio_client, "sms", "messages", incoming("SM" + "1" * 32, body))
    assert await resp.text() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert await rows(twilio_client, select(ConsentRecord)) == []
    (message,) = await rows(twilio_client, select(Message.auto_submitted))
    assert message.auto_submitted is None


async def test_stop_on_whatsapp_withdraws_whatsapp_consent_only(twilio_client: TestClient[Any, Any]) -> None:
    user = await agent(twilio_client)
    wa = incoming("SM" + "1" * 32, "STOP", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{WA_NUMBER}")
    assert (await deliver(twilio_client, "wa", "messages", wa)).status == 200
    assert await current(twilio_client, user, "whatsapp") == {"service": False, "marketing": False}
    assert await current(twilio_client, user, "sms") == {"service": True, "marketing": False}
