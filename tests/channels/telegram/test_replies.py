"""Replies through the Bot API: sendMessage (split at 4,096), sendPhoto/sendDocument, 429, setWebhook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.keys import ADAPTERS, SERVICES
from hub.cli.channels import register_webhooks
from hub.db.models import Conversation, Message, OutboxItem
from hub.inbox import actions
from hub.messages import Attachment
from tests.channels.db import dispatcher, supervisor
from tests.channels.fixtures import load, raw
from tests.channels.provider_stub import Canned, ProviderStub
from tests.channels.telegram.conftest import SECRET, deliver, method, telegram_channel
from tests.conftest import make_settings


async def reply(client: TestClient[Any, Any], text: str, *attachments: Attachment) -> Message:
    assert (await deliver(client, raw("telegram", "text_message.json"))).status == 200
    services = client.app[SERVICES]
    async with services.sessions() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    assert conversation_id is not None
    return await actions.reply(services, await supervisor(client), conversation_id, text, private=False,
                               adapters=client.app[ADAPTERS], attachments=attachments)


async def test_a_long_reply_goes_as_consecutive_messages_to_the_chat(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    first, second = ("Danke für Ihre Geduld. " * 130).strip(), ("Ihre Bestellung ist unterwegs. " * 50).strip()
    message = await reply(telegram_client, f"{first}\n\n{second}")
    worker, _clock = dispatcher(telegram_client)
    await worker.run_once()
    calls = [c.json for c in telegram.calls(method("sendMessage"))]
    assert calls == [{"chat_id": "1111111", "text": first}, {"chat_id": "1111111", "text": second}]
    async with telegram_client.app[SERVICES].sessions() as session:
        stored = await session.get(Message, message.id)
    assert stored is not None and (stored.status, stored.provider_message_id) == ("sent", "1111111:500")


async def test_images_go_as_photos_and_other_files_as_documents_after_the_text(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    await reply(telegram_client, "Anbei:", Attachment("foto.png", "image/png", b"\x89PNG-bytes"),
                Attachment("lieferschein.pdf", "application/pdf", b"%PDF-1.7"))
    worker, _clock = dispatcher(telegram_client)
    await worker.run_once()
    assert [r.path.rsplit("/", 1)[1] for r in telegram.requests if r.method == "POST"][-3:] == [
        "sendMessage", "sendPhoto", "sendDocument",
    ]
    (photo,) = telegram.calls(method("sendPhoto"))
    assert photo.content_type == "multipart/form-data"
    assert b'name="chat_id"' in photo.body and b"1111111" in photo.body
    assert b'name="photo"; filename="foto.png"' in photo.body and b"\x89PNG-bytes" in photo.body
    (document,) = telegram.calls(method("sendDocument"))
    assert b'name="document"; filename="lieferschein.pdf"' in document.body and b"%PDF-1.7" in document.body


async def test_too_many_requests_waits_for_retry_after(
    telegram_client: TestClient[Any, Any], telegram: ProviderStub
) -> None:
    message = await reply(telegram_client, "Moment bitte.")
    telegram.fail_next(method("sendMessage"), Canned(429, load("telegram", "too_many_requests.json")))
    worker, clock = dispatcher(telegram_client)
    await worker.run_once()
    async with telegram_client.app[SERVICES].sessions() as session:
        outbox = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    assert outbox is not None and outbox.state == "pending"
    assert outbox.next_attempt_at == clock.now + timedelta(seconds=17)
    assert outbox.last_error == "Telegram sendMessage answered 429: Too Many Requests: retry after 17"
    clock.advance(17)
    await worker.run_once()
    assert len(telegram.calls(method("sendMessage"))) == 2


async def test_a_blocked_bot_is_a_dead_letter(telegram_client: TestClient[Any, Any], telegram: ProviderStub) -> None:
    message = await reply(telegram_client, "Hallo?")
    refusal = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    telegram.fail_next(method("sendMessage"), Canned(403, refusal))
    worker, _clock = dispatcher(telegram_client)
    await worker.run_once()
    async with telegram_client.app[SERVICES].sessions() as session:
        stored = await session.get(Message, message.id)
    assert stored is not None and stored.status == "failed"
    assert stored.error == "Telegram sendMessage answered 403: Forbidden: bot was blocked by the user"


async def test_register_webhooks_sets_the_url_with_the_secret(telegram: ProviderStub, tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite+aiosqlite://", tmp_path, channels=(telegram_channel(telegram.url),),
        public_url="https://hub.example.com",
    )
    lines = await register_webhooks(settings)
    assert lines == ["tg-shop: webhook set to https://hub.example.com/webhooks/telegram/tg-shop"]
    (call,) = telegram.calls(method("setWebhook"))
    assert call.json == {
        "url": "https://hub.example.com/webhooks/telegram/tg-shop",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
