"""Meta's one webhook end to end: verification, signatures, batches, WhatsApp, Messenger, Instagram."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.db.models import Contact, ContactIdentity, Conversation, Message, MessageAttachment
from tests.channels.db import count, rows
from tests.channels.fixtures import raw
from tests.channels.meta.conftest import (
    CDN_IMAGE,
    IG,
    IMAGE,
    MEDIA_ID,
    PAGE,
    VERIFY_TOKEN,
    deliver,
    now_text,
    sign,
)
from tests.channels.provider_stub import Canned, ProviderStub
from tests.factories import send_inbound, services_of


async def test_the_subscription_check_echoes_the_challenge_only_with_the_verify_token(
    meta_client: TestClient[Any, Any],
) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    resp = await meta_client.get("/webhooks/meta", params=query)
    assert resp.status == 200 and await resp.text() == "1158201444"
    for wrong in ({"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}):
        resp = await meta_client.get("/webhooks/meta", params={**query, **wrong})
        assert resp.status == 403


async def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    body = now_text("whatsapp_text_message.json")
    assert (await deliver(meta_client, body, sign(body, secret="another-app"))).status == 401
    assert (await deliver(meta_client, body, {"Content-Type": "application/json"})).status == 401
    assert (await deliver(meta_client, body + b" ", sign(body))).status == 401  # one byte more
    assert await count(meta_client, Message) == 0
    assert graph.requests == []


async def test_a_whatsapp_message_is_the_same_phone_contact_as_sms_and_voice(meta_client: TestClient[Any, Any]) -> None:
    earlier = await send_inbound(meta_client, sender={"phone": "+1 650-555-1234", "name": "Sheena"})
    body = now_text("whatsapp_text_message.json")
    for _ in range(2):  # Meta retries a delivery it thinks failed
        assert (await deliver(meta_client, body)).status == 200
    (message,) = await rows(meta_client, select(Message.text, Message.provider_message_id, Conversation.contact_id)
                            .join(Conversation).where(Message.channel_id == _channel_id(meta_client, "wa-shop")))
    assert message.text == "Does it come in another color?"
    assert message.provider_message_id.startswith("wamid.")
    (first,) = await rows(meta_client, select(Conversation.contact_id).where(Conversation.id == earlier["conversation_id"]))
    assert message.contact_id == first.contact_id
    identities = await rows(meta_client, select(ContactIdentity.kind, ContactIdentity.address))
    assert [tuple(i) for i in identities] == [("phone", "+16505551234")]


def _channel_id(client: TestClient[Any, Any], name: str) -> int:
    return services_of(client).endpoints[name].channel_id


async def test_a_batch_is_split_between_the_numbers_and_the_unserved_one_is_logged(
    meta_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.api.webhooks"):
        assert (await deliver(meta_client, raw("meta", "whatsapp_batch_for_two_numbers.json"))).status == 200
    found = await rows(meta_client, select(Message.text, Message.channel_id).order_by(Message.id))
    assert {(m.text, m.channel_id) for m in found} == {
        ("First number", _channel_id(meta_client, "wa-shop")),
        ("Second number", _channel_id(meta_client, "wa-billing")),
    }
    assert "no configured channel serves 999999999999999" in caplog.text


async def test_whatsapp_media_is_fetched_through_the_graph_api_and_checked(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    assert (await deliver(meta_client, raw("meta", "whatsapp_image_message.json"))).status == 200
    (info,) = graph.calls(f"/v21.0/{MEDIA_ID}")
    (download,) = graph.calls("/whatsapp_business/attachments/")
    assert info.headers["Authorization"] == download.headers["Authorization"] == "Bearer EAAG-test-access-token"
    assert download.query == {"mid": MEDIA_ID}
    (stored,) = await rows(meta_client, select(Message.text, MessageAttachment.content_type, MessageAttachment.size)
                           .join(MessageAttachment))
    assert tuple(stored) == ("The scratch on the lid", "image/jpeg", len(IMAGE))


async def test_media_that_fails_its_checks_is_noted_and_the_message_kept(
    meta_client: TestClient[Any, Any], graph: ProviderStub
) -> None:
    # A media URL on a forbidden network, then a redirect to one, then a wrong checksum.
    answers = [
        {"url": "http://169.254.169.254/latest/meta-data/", "mime_type": "image/jpeg", "id": MEDIA_ID},
        {"url": f"{graph.url}/redirect-me", "mime_type": "image/jpeg", "id": MEDIA_ID},
        {"url": f"{graph.url}/whatsapp_business/attachments/?mid=x", "mime_type": "image/jpeg",
         "sha256": "0" * 64, "id": MEDIA_ID},
    ]
    graph.fail_next(f"/v21.0/{MEDIA_ID}", *(Canned(200, a) for a in answers))
    graph.fail_next("/redirect-me", Canned(302, b"", {"Location": "http://10.1.2.3/internal"}))
    template = json.loads(raw("meta", "whatsapp_image_message.json"))
    for n in range(3):
        template["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.MEDIA-CHECK-{n}"
        assert (await deliver(meta_client, json.dumps(template).encode())).status == 200
    texts = [r.text for r in await rows(meta_client, select(Message.text).order_by(Message.id))]
    assert "refused" in texts[0] and "169.254.169.254" in texts[0]
    assert "refused" in texts[1] and "10.1.2.3" in texts[1]
    assert "SHA-256 does not match" in texts[2]
    assert all(t.startswith("The scratch on the lid\n[attachment image-") for t in texts)
    assert await count(meta_client, MessageAttachment) == 0


async def test_locations_contact_cards_and_button_replies_become_text(
    meta_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hub.api.webhooks"):
        body = raw("meta", "whatsapp_location_contacts_and_replies.json")
        assert (await deliver(meta_client, body)).status == 200
    texts = [r.text for r in await rows(meta_client, select(Message.text).order_by(Message.id))]
    assert texts == [
        "📍 Location: Main Office, 1 Hacker Way, Menlo Park, CA 94025 (37.483873, -122.148354)",
        "👤 Contact: Barbara J. Johnson, +1 (650) 555-1234, bjohnson@example.com",
        "🔘 Change [change-button]",
        "🔘 Track my order [track-order]",
    ]
    assert "message of type reaction acknowledged and ignored" in caplog.text


async def test_messenger_messages_attachments_postbacks_and_deliveries(
    meta_client: TestClient[Any, Any], graph: ProviderStub, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await deliver(meta_client, now_text("messenger_text_message.json"))).status == 200
    body = raw("meta", "messenger_attachment_postback_delivery.json", cdn=graph.url, delivered_mid="m_unknown")
    with caplog.at_level(logging.INFO, logger="hub.api.webhooks"):
        assert (await deliver(meta_client, body)).status == 200
    found = await rows(meta_client, select(Message.text, Message.conversation_id).order_by(Message.id))
    assert [m.text for m in found] == ["🔘 hello, world! [GREETING]", "", "🔘 Talk to a person [HUMAN]"]
    assert len({m.conversation_id for m in found}) == 1
    (attachment,) = await rows(meta_client, select(MessageAttachment.size, MessageAttachment.content_type))
    assert tuple(attachment) == (len(CDN_IMAGE), "image/jpeg")
    assert "authorization" not in {k.lower() for k in graph.calls("/v/t1.15752-9/photo.jpg")[0].headers}
    assert "echo of a message the page sent acknowledged and ignored" in caplog.text
    assert "event read acknowledged and ignored" in caplog.text
    (identity,) = await rows(meta_client, select(ContactIdentity.address))
    assert identity.address == f"messenger.{PAGE}:6939283472883421"  # page-scoped ids


async def test_instagram_messages_have_account_scoped_identities(meta_client: TestClient[Any, Any]) -> None:
    assert (await deliver(meta_client, raw("meta", "instagram_text_message.json"))).status == 200
    (identity,) = await rows(meta_client, select(ContactIdentity.address))
    assert identity.address == f"instagram.{IG}:1254459154682919"
    assert await count(meta_client, Contact) == 1


async def test_unknown_objects_and_malformed_bodies(meta_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"object": "user", "entry": [{"id": "1", "changes": [{"field": "email"}]}]}'
    with caplog.at_level(logging.WARNING, logger="hub.api.webhooks"):
        assert (await deliver(meta_client, body)).status == 200
    assert "no configured channel serves object user" in caplog.text
    for bad in (b"[1]", b"{", b'{"object": "page", "entry": [{"messaging": []}]}'):
        assert (await deliver(meta_client, bad)).status in (400, 422)
    assert await count(meta_client, Message) == 0


async def test_a_sender_that_is_no_phone_number_is_skipped_and_logged_without_it(
    meta_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    body = json.loads(now_text("whatsapp_text_message.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = "12"
    with caplog.at_level(logging.INFO, logger="hub.api.webhooks"):
        assert (await deliver(meta_client, json.dumps(body).encode())).status == 200
    assert "from a sender id the hub cannot read acknowledged and ignored" in caplog.text
    assert "'+12'" not in caplog.text
    assert await count(meta_client, Message) == 0
