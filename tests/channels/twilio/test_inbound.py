"""Incoming SMS, MMS and WhatsApp through the signed webhook: idempotency, identities, media."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.db.models import Blob, ContactIdentity, Conversation, Message, MessageAttachment
from tests.channels.db import count, rows
from tests.channels.provider_stub import Recorded
from tests.channels.twilio.conftest import (
    CUSTOMER,
    NUMBER,
    PUBLIC_URL,
    WA_NUMBER,
    deliver,
    incoming,
)
from tests.channels.twilio.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioApi, sign
from tests.factories import services_of

SID = "SM" + "1" * 32
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
JPEG = b"\xff\xd8\xff\xe0" + b"MMS-PHOTO" * 20
PDF = b"%PDF-1.7 invoice"


def channel_id(client: TestClient[Any, Any], name: str) -> int:
    return services_of(client).endpoints[name].channel_id


async def test_a_signed_sms_is_stored_once_however_often_twilio_retries(twilio_client: TestClient[Any, Any]) -> None:
    for _ in range(3):
        resp = await deliver(twilio_client, "sms", "messages", incoming(SID, "Wo bleibt meine Bestellung?"))
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        assert await resp.text() == EMPTY_TWIML
    (message,) = await rows(twilio_client, select(Message.text, Message.provider_message_id, Message.direction))
    assert tuple(message) == ("Wo bleibt meine Bestellung?", SID, "in")
    identities = await rows(twilio_client, select(ContactIdentity.kind, ContactIdentity.address))
    assert [tuple(i) for i in identities] == [("phone", CUSTOMER)]


@pytest.mark.parametrize("wrong", ["token", "internal_url", "tampered", "missing", "json"])
async def test_a_wrong_or_missing_signature_is_403_and_stores_nothing(
    twilio_client: TestClient[Any, Any], api: TwilioApi, wrong: str
) -> None:
    params = incoming(SID, "hello", media=[(f"{api.url}/2010-04-01/x", "image/jpeg")])
    path = "/webhooks/twilio/sms/messages"
    if wrong == "token":
        resp = await deliver(twilio_client, "sms", "messages", params, token="another-account-token")
    elif wrong == "internal_url":  # signed for the address the proxy forwards to, not the public one
        resp = await deliver(twilio_client, "sms", "messages", params, signed_url=str(twilio_client.make_url(path)))
    elif wrong == "tampered":
        good = sign(PUBLIC_URL + path, params)
        changed = [(k, "+4915199999999" if k == "From" else v) for k, v in params]
        resp = await twilio_client.post(path, data=urlencode(changed), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": good})
    elif wrong == "missing":
        resp = await deliver(twilio_client, "sms", "messages", params,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        resp = await twilio_client.post(path, json=dict(params), headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, params)})
    assert resp.status == 403
    assert (await resp.json())["status"] == 403
    assert await count(twilio_client, Message) == 0
    assert api.requests == []  # not even the media was fetched


async def test_an_unknown_channel_is_404(twilio_client: TestClient[Any, Any]) -> None:
    assert (await deliver(twilio_client, "nope", "messages", incoming(SID, "x"))).status == 404
    assert (await deliver(twilio_client, "web-form", "messages", incoming(SID, "x"))).status == 404


async def test_a_malformed_webhook_is_a_clear_4xx(twilio_client: TestClient[Any, Any]) -> None:
    params = [(k, v) for k, v in incoming(SID, "x") if k != "MessageSid"]
    resp = await deliver(twilio_client, "sms", "messages", params)
    assert resp.status == 422
    assert "MessageSid" in (await resp.json())["detail"]
    assert await count(twilio_client, Message) == 0


async def test_sms_and_whatsapp_of_one_number_are_one_contact(twilio_client: TestClient[Any, Any]) -> None:
    await deliver(twilio_client, "sms", "messages", incoming(SID, "per SMS", sender="+49 151 12345678"))
    wa = incoming("SM" + "2" * 32, "per WhatsApp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{WA_NUMBER}",
                  ProfileName="Lena", WaId=CUSTOMER.lstrip("+"))
    assert (await deliver(twilio_client, "wa", "messages", wa)).status == 200
    found = await rows(twilio_client, select(Message.text, Conversation.contact_id, Conversation.channel_id)
                       .join(Conversation).order_by(Message.id))
    assert [m.text for m in found] == ["per SMS", "per WhatsApp"]
    assert found[0].contact_id == found[1].contact_id
    assert {m.channel_id for m in found} == {channel_id(twilio_client, "sms"), channel_id(twilio_client, "wa")}
    identities = await rows(twilio_client, select(ContactIdentity.kind, ContactIdentity.address))
    assert [tuple(i) for i in identities] == [("phone", CUSTOMER)]


async def test_a_national_number_is_read_in_the_default_region(twilio_client: TestClient[Any, Any]) -> None:
    await deliver(twilio_client, "sms", "messages", incoming(SID, "hallo", sender="0151 12345678"))
    identities = await rows(twilio_client, select(ContactIdentity.address))
    assert [i.address for i in identities] == [CUSTOMER]


async def test_a_message_to_another_number_or_account_is_acknowledged_and_not_stored(
    twilio_client: TestClient[Any, Any],
) -> None:
    assert (await deliver(twilio_client, "sms", "messages", incoming(SID, "x", to="+14155550199"))).status == 200
    other = [(k, "AC" + "f" * 32 if k == "AccountSid" else v) for k, v in incoming(SID, "x")]
    assert (await deliver(twilio_client, "sms", "messages", other)).status == 200
    assert await count(twilio_client, Message) == 0


async def test_mms_media_is_downloaded_with_account_auth_into_the_blob_store(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    mms = "MM" + "3" * 32
    photo, invoice = api.add_media(mms, JPEG, "image/jpeg"), api.add_media(mms, PDF, "application/pdf")
    params = incoming(mms, "Foto vom Schaden", media=[(photo, "image/jpeg"), (invoice, "application/pdf")])
    for _ in range(2):
        assert (await deliver(twilio_client, "sms", "messages", params)).status == 200
    (message,) = await rows(twilio_client, select(Message.id, Message.text))
    assert message.text == "Foto vom Schaden"
    stored = await rows(twilio_client, select(MessageAttachment.filename, MessageAttachment.content_type,
                                              MessageAttachment.size, MessageAttachment.blob_sha256)
                        .order_by(MessageAttachment.id))
    assert [(a.filename, a.content_type, a.size) for a in stored] == [
        (f"mms-{mms[-8:]}-1.jpg", "image/jpeg", len(JPEG)), (f"mms-{mms[-8:]}-2.pdf", "application/pdf", len(PDF)),
    ]
    blobs = services_of(twilio_client).blobs
    assert await blobs.get(stored[0].blob_sha256) == JPEG
    assert await count(twilio_client, Blob) == 2
    fetches = [r for r in api.requests if "/Media/" in r.path]
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert {r.headers["Authorization"] for r in fetches} == {expected}
    assert len([r for r in api.requests if r.path.startswith("/cdn/")]) == 2  # the retry fetched nothing again


@pytest.mark.parametrize("sms_options", [{"max_media_bytes": 100, "media_types": ["image/*"]}])
async def test_media_over_the_limits_is_noted_not_stored(twilio_client: TestClient[Any, Any], api: TwilioApi) -> None:
    mms = "MM" + "4" * 32
    big, pdf = api.add_media(mms, JPEG, "image/jpeg"), api.add_media(mms, PDF, "application/pdf")
    params = incoming(mms, "", media=[(big, "image/jpeg"), (pdf, "application/pdf")])
    assert (await deliver(twilio_client, "sms", "messages", params)).status == 200
    (message,) = await rows(twilio_client, select(Message.text))
    assert message.text.splitlines() == [
        f"[attachment mms-{mms[-8:]}-1.jpg not stored: media of {len(JPEG)} bytes exceeds the limit of 100]",
        f"[attachment mms-{mms[-8:]}-2.pdf not stored: media of type application/pdf is not stored]",
    ]
    assert await count(twilio_client, MessageAttachment) == 0
    assert not [r for r in api.requests if r.path.endswith(pdf.rsplit("/", 1)[1])]  # refused before fetching


async def test_media_off_twilios_hosts_is_never_fetched_even_by_redirect(
    twilio_client: TestClient[Any, Any], api: TwilioApi
) -> None:
    port = api.url.rsplit(":", 1)[1]
    evil = f"http://localhost:{port}/cdn/stolen"  # the same server by another name: not Twilio's host

    async def redirect(request: web.Request, recorded: Recorded) -> web.StreamResponse:
        raise web.HTTPFound(evil)

    mms = "MM" + "5" * 32
    api.route("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{mms}/Media/ME-redirect", redirect)
    params = incoming(mms, "look", media=[
        (evil, "image/jpeg"), (f"{api.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{mms}/Media/ME-redirect", "image/jpeg"),
        ("http://169.254.169.254/latest/meta-data/", "image/jpeg"),
    ])
    assert (await deliver(twilio_client, "sms", "messages", params)).status == 200
    (message,) = await rows(twilio_client, select(Message.text))
    notes = message.text.splitlines()[1:]
    assert len(notes) == 3 and all("not one of the provider's media hosts" in n for n in notes[:2])
    assert "not stored" in notes[2]
    assert not [r for r in api.requests if r.path == "/cdn/stolen"]
    assert await count(twilio_client, MessageAttachment) == 0


async def test_a_sender_the_hub_cannot_read_is_acknowledged_and_ignored(twilio_client: TestClient[Any, Any]) -> None:
    assert (await deliver(twilio_client, "sms", "messages", incoming(SID, "x", sender="not-a-number"))).status == 200
    assert await count(twilio_client, Message) == 0


async def test_the_sms_number_is_matched_in_e164(twilio_client: TestClient[Any, Any]) -> None:
    assert NUMBER == "+14155550100"
    assert (await deliver(twilio_client, "sms", "messages", incoming(SID, "x", to="+1 (415) 555-0100"))).status == 200
    assert await count(twilio_client, Message) == 1
