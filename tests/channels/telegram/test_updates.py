"""Telegram webhook updates end to end: the secret token, messages, edits, files, buttons."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.db.models import Contact, ContactIdentity, Conversation, Message, MessageAttachment
from tests.channels.db import count, rows
from tests.channels.fixtures import raw
from tests.channels.provider_stub import ProviderStub
from tests.channels.telegram.conftest import JPEG, PDF, changed, deliver, method
from tests.factories import create_user, services_of


async def test_a_missing_or_wrong_secret_token_is_refused_and_stores_nothing(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    body = raw("telegram", "text_message.json")
    assert (await deliver(telegram_client, body, secret=None)).status == 401
    resp = await deliver(telegram_client, body, secret="tg-webhook-secret_0123456788")
    assert resp.status == 403
    assert (await resp.json())["detail"] == "wrong X-Telegram-Bot-Api-Secret-Token"
    assert await count(telegram_client, Message) == 0
    assert telegram.requests == []


async def test_a_text_message_lands_on_the_telegram_user(telegram_client: TestClient[Any, Any]) -> None:
    assert (await deliver(telegram_client, raw("telegram", "text_message.json"))).status == 200
    (message,) = await rows(telegram_client, select(Message.text, Message.provider_message_id, Message.created_at))
    assert message.text == "Hallo, wo bleibt meine Bestellung 4711?"
    assert message.provider_message_id == "1111111:1365"
    assert message.created_at.timestamp() == 1441645532
    (contact,) = await rows(telegram_client, select(Contact.name))
    assert contact.name == "Test Firstname Test Lastname"
    (identity,) = await rows(telegram_client, select(ContactIdentity.kind, ContactIdentity.address))
    assert tuple(identity) == ("platform", "telegram:1111111")


async def test_a_repeated_update_is_stored_once(telegram_client: TestClient[Any, Any]) -> None:
    body = raw("telegram", "text_message.json")
    for _ in range(2):
        assert (await deliver(telegram_client, body)).status == 200
    # The same message in an update with another id (Telegram redelivering after a restart).
    assert (await deliver(telegram_client, changed(body, update_id=20000))).status == 200
    assert await count(telegram_client, Message) == 1


async def test_an_edit_is_a_message_of_its_own_linked_to_the_original(telegram_client: TestClient[Any, Any]) -> None:
    for name in ("text_message.json", "edited_message.json", "edited_message.json"):
        assert (await deliver(telegram_client, raw("telegram", name))).status == 200
    found = await rows(telegram_client, select(Message.id, Message.conversation_id, Message.text, Message.edit_of)
                       .order_by(Message.id))
    assert [(m.text, m.edit_of) for m in found] == [
        ("Hallo, wo bleibt meine Bestellung 4711?", None),
        ("Hallo, wo bleibt meine Bestellung 4712?", "1111111:1365"),
    ]
    assert found[0].conversation_id == found[1].conversation_id
    supervisor = await create_user(services_of(telegram_client), role="supervisor")
    detail = await (await telegram_client.get(f"/api/v1/conversations/{found[0].conversation_id}",
                                              headers=supervisor.headers)).json()
    assert [m["edit_of"] for m in detail["messages"]] == [None, found[0].id]


async def test_the_largest_photo_and_a_document_are_fetched_with_get_file(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    for name in ("photo_with_caption.json", "document.json"):
        assert (await deliver(telegram_client, raw("telegram", name))).status == 200
    assert [c.json for c in telegram.calls(method("getFile"))] == [
        {"file_id": "AgACAgIAAxkBAAIBZ2large"}, {"file_id": "BQACAgIAAxkBAAIBaGdocument"},
    ]
    found = await rows(telegram_client, select(Message.text, MessageAttachment.filename, MessageAttachment.content_type,
                                               MessageAttachment.size).join(MessageAttachment).order_by(Message.id))
    assert [tuple(r) for r in found] == [
        ("Das Paket kam so an.", "photo-AQADlarge.jpg", "image/jpeg", len(JPEG)),
        ("", "rechnung-4711.pdf", "application/pdf", len(PDF)),
    ]


async def test_a_pressed_button_is_the_customers_answer_and_is_acknowledged(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    assert (await deliver(telegram_client, raw("telegram", "text_message.json"))).status == 200
    assert (await deliver(telegram_client, raw("telegram", "callback_query.json"))).status == 200
    found = await rows(telegram_client, select(Message.conversation_id, Message.text).order_by(Message.id))
    assert found[1].text == "🔘 Ja, danke [helpful:yes]"
    assert found[0].conversation_id == found[1].conversation_id  # continues the open conversation
    (answer,) = telegram.calls(method("answerCallbackQuery"))
    assert answer.json == {"callback_query_id": "4382bfdwdsb323b2d9"}


async def test_group_chats_and_unknown_update_types_are_acknowledged_and_logged(
    telegram_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hub.api.webhooks"):
        for name in ("group_message.json", "poll_update.json"):
            assert (await deliver(telegram_client, raw("telegram", name))).status == 200
    assert "message in a group chat acknowledged and ignored" in caplog.text
    assert "update poll acknowledged and ignored" in caplog.text
    assert await count(telegram_client, Message) == 0


async def test_the_path_names_the_channel(telegram_client: TestClient[Any, Any]) -> None:
    body = raw("telegram", "text_message.json")
    assert (await deliver(telegram_client, body, name="no-such-bot")).status == 404
    assert (await deliver(telegram_client, body, name="web-form")).status == 404  # an API channel
    assert await count(telegram_client, Conversation) == 0


async def test_a_malformed_update_is_4xx(telegram_client: TestClient[Any, Any]) -> None:
    for body in (b"[]", b"{", b'{"message": {}}'):
        resp = await deliver(telegram_client, body)
        assert resp.status in (400, 422), body
    assert await count(telegram_client, Message) == 0
