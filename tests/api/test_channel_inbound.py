"""The API channel's inbound route: auth, validation, idempotency, threading."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.keys import SERVICES
from hub.db.models import (
    Contact,
    ContactIdentity,
    Conversation,
    EventRecord,
    Message,
    TimelineEntry,
)
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "form-1",
        "sender": {"email": "Erika.Mustermann@Example.DE", "name": "Erika Mustermann"},
        "text": "Meine Rechnung ist falsch.",
    }
    data.update(overrides)
    return data


async def count(client: TestClient[Any, Any], model: type) -> int:
    async with client.app[SERVICES].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_new_message_creates_contact_conversation_and_timeline(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/v1/channels/web-form/messages", json=body(), headers=AUTH)
    assert resp.status == 202, await resp.text()
    data = await resp.json()
    assert data["duplicate"] is False
    async with client.app[SERVICES].sessions() as session:
        message = await session.get(Message, data["message_id"])
        assert message is not None and message.text == "Meine Rechnung ist falsch."
        conversation = await session.get(Conversation, data["conversation_id"])
        assert conversation is not None and conversation.status == "open"
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None and contact.name == "Erika Mustermann"
        addresses = (await session.scalars(select(ContactIdentity.address))).all()
        assert addresses == ["erika.mustermann@example.de"]
        kinds = (await session.scalars(select(TimelineEntry.kind))).all()
        assert kinds == ["message_in"]
        types = set((await session.scalars(select(EventRecord.type))).all())
        assert {"contact.created", "conversation.created", "message.received"} <= types


async def test_a_replay_returns_the_stored_message_and_changes_nothing(client: TestClient[Any, Any]) -> None:
    first = await (await client.post("/api/v1/channels/web-form/messages", json=body(), headers=AUTH)).json()
    events_before = await count(client, EventRecord)
    resp = await client.post("/api/v1/channels/web-form/messages", json=body(text="changed"), headers=AUTH)
    assert resp.status == 202
    second = await resp.json()
    assert second == {**first, "duplicate": True}
    assert await count(client, Message) == 1
    assert await count(client, EventRecord) == events_before


async def test_the_same_sender_continues_the_open_conversation(client: TestClient[Any, Any]) -> None:
    a = await (await client.post("/api/v1/channels/web-form/messages", json=body(), headers=AUTH)).json()
    b = await (await client.post("/api/v1/channels/web-form/messages", json=body(id="form-2"), headers=AUTH)).json()
    assert a["conversation_id"] == b["conversation_id"]
    assert a["message_id"] != b["message_id"]


async def test_a_thread_id_keeps_separate_conversations(client: TestClient[Any, Any]) -> None:
    a = await (await client.post("/api/v1/channels/web-form/messages", json=body(thread="t-1"), headers=AUTH)).json()
    b = await (
        await client.post("/api/v1/channels/web-form/messages", json=body(id="form-2", thread="t-2"), headers=AUTH)
    ).json()
    c = await (
        await client.post("/api/v1/channels/web-form/messages", json=body(id="form-3", thread="t-1"), headers=AUTH)
    ).json()
    assert a["conversation_id"] != b["conversation_id"]
    assert c["conversation_id"] == a["conversation_id"]


async def test_concurrent_messages_of_one_new_sender_share_one_contact(client: TestClient[Any, Any]) -> None:
    import asyncio

    async def send(i: int) -> dict[str, Any]:
        resp = await client.post(
            "/api/v1/channels/web-form/messages",
            json=body(id=f"c-{i}", sender={"phone": "+49 30 1234567", "email": "new@example.com"}),
            headers=AUTH,
        )
        assert resp.status == 202
        return dict(await resp.json())

    results = await asyncio.gather(*(send(i) for i in range(20)))
    assert len({r["conversation_id"] for r in results}) == 1
    assert await count(client, Contact) == 1
    assert await count(client, ContactIdentity) == 2


async def test_wrong_token_is_401_and_writes_nothing(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/channels/web-form/messages", json=body(), headers={"Authorization": "Bearer nope"}
    )
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    assert await count(client, Message) == 0


async def test_another_channels_token_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/v1/channels/shop/messages", json=body(), headers=AUTH)
    assert resp.status == 401


async def test_unknown_channel_is_404(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/v1/channels/nope/messages", json=body(), headers=AUTH)
    assert resp.status == 404
    assert (await resp.json())["status"] == 404


async def test_bad_bodies_get_a_problem_and_write_nothing(client: TestClient[Any, Any]) -> None:
    cases: list[tuple[bytes, int]] = [
        (b"{not json", 400),
        (b'{"id": 1, "sender": {"email": "a@b.de"}, "text": "x"}', 422),
        (b'{"id": "x", "sender": {"email": "a@b.de"}, "text": "x", "surprise": 1}', 422),
        (b'{"id": "x", "sender": {}, "text": "x"}', 422),
        (b'{"id": "x", "sender": {"email": "not-an-address"}, "text": "x"}', 422),
        (b'{"id": "x", "sender": {"phone": "12"}, "text": "x"}', 422),
        (b'{"id": "x", "sender": {"email": "a@b.de"}, "text": "  "}', 422),
        (b"[]", 422),
    ]
    for raw, status in cases:
        resp = await client.post(
            "/api/v1/channels/web-form/messages",
            data=raw,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert resp.status == status, (raw, await resp.text())
        problem = await resp.json()
        assert problem["status"] == status and problem["detail"]
    assert await count(client, Message) == 0
    assert await count(client, Contact) == 0


async def test_an_oversized_body_is_413(client: TestClient[Any, Any]) -> None:
    import io
    import json

    big = io.BytesIO(json.dumps(body(text="x" * (2 << 20))).encode())
    resp = await client.post(
        "/api/v1/channels/web-form/messages",
        data=big,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert await count(client, Message) == 0


async def test_html_is_sanitized_before_it_is_stored(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/channels/web-form/messages",
        json=body(html='<p onclick="steal()">Hallo<script>alert(1)</script></p>'),
        headers=AUTH,
    )
    data = await resp.json()
    async with client.app[SERVICES].sessions() as session:
        message = await session.get(Message, data["message_id"])
        assert message is not None and message.html == "<p>Hallo</p>"


async def test_attachments_land_in_the_blob_store(client: TestClient[Any, Any]) -> None:
    import base64
    import hashlib

    from hub.db.models import MessageAttachment

    pdf = b"%PDF-1.4 fake invoice"
    resp = await client.post(
        "/api/v1/channels/web-form/messages",
        json=body(
            attachments=[
                {"filename": "rechnung.pdf", "content_type": "application/pdf", "content_base64": base64.b64encode(pdf).decode()}
            ]
        ),
        headers=AUTH,
    )
    assert resp.status == 202
    services = client.app[SERVICES]
    async with services.sessions() as session:
        (attachment,) = (await session.scalars(select(MessageAttachment))).all()
    assert attachment.filename == "rechnung.pdf" and attachment.size == len(pdf)
    assert attachment.blob_sha256 == hashlib.sha256(pdf).hexdigest()
    assert await services.blobs.get(attachment.blob_sha256) == pdf


async def test_bad_attachment_content_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/channels/web-form/messages",
        json=body(attachments=[{"filename": "x.bin", "content_type": "application/octet-stream", "content_base64": "%%%"}]),
        headers=AUTH,
    )
    assert resp.status == 422
    assert await count(client, Message) == 0


async def test_a_sender_known_by_phone_is_the_same_contact_by_email_too(client: TestClient[Any, Any]) -> None:
    first = await (
        await client.post(
            "/api/v1/channels/web-form/messages",
            json=body(id="p-1", sender={"phone": "+49 30 5550100"}),
            headers=AUTH,
        )
    ).json()
    second = await (
        await client.post(
            "/api/v1/channels/web-form/messages",
            json=body(id="p-2", sender={"phone": "0049305550100", "email": "Kunde@Example.com", "name": "Kim Kunde"}),
            headers=AUTH,
        )
    ).json()
    third = await (
        await client.post(
            "/api/v1/channels/web-form/messages",
            json=body(id="p-3", sender={"email": "kunde@example.com"}),
            headers=AUTH,
        )
    ).json()
    assert first["conversation_id"] == second["conversation_id"] == third["conversation_id"]
    assert await count(client, Contact) == 1
    async with client.app[SERVICES].sessions() as session:
        (contact,) = (await session.scalars(select(Contact))).all()
        assert contact.name == "Kim Kunde"  # an empty name is filled from the sender's
        identities = set((await session.scalars(select(ContactIdentity.address))).all())
    assert identities == {"+49305550100", "kunde@example.com"}


async def test_a_resolved_conversation_stays_closed_for_a_new_message(client: TestClient[Any, Any]) -> None:
    first = await (await client.post("/api/v1/channels/web-form/messages", json=body(), headers=AUTH)).json()
    async with client.app[SERVICES].transaction() as unit:
        conversation = await unit.session.get(Conversation, first["conversation_id"])
        assert conversation is not None
        conversation.status = "resolved"
    second = await (await client.post("/api/v1/channels/web-form/messages", json=body(id="form-2"), headers=AUTH)).json()
    assert second["conversation_id"] != first["conversation_id"]


async def test_a_reply_in_a_resolved_thread_reopens_it(client: TestClient[Any, Any]) -> None:
    first = await (await client.post("/api/v1/channels/web-form/messages", json=body(thread="order-7"), headers=AUTH)).json()
    async with client.app[SERVICES].transaction() as unit:
        conversation = await unit.session.get(Conversation, first["conversation_id"])
        assert conversation is not None
        conversation.status = "resolved"
    second = await (
        await client.post("/api/v1/channels/web-form/messages", json=body(id="form-2", thread="order-7"), headers=AUTH)
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    async with client.app[SERVICES].sessions() as session:
        conversation = await session.get(Conversation, first["conversation_id"])
        assert conversation is not None and conversation.status == "open"


async def test_threads_are_per_channel(client: TestClient[Any, Any]) -> None:
    a = await (await client.post("/api/v1/channels/web-form/messages", json=body(thread="t"), headers=AUTH)).json()
    b = await (
        await client.post(
            "/api/v1/channels/shop/messages",
            json=body(thread="t"),
            headers={"Authorization": f"Bearer {API_TOKEN}-shop"},
        )
    ).json()
    assert a["conversation_id"] != b["conversation_id"]
    assert b["duplicate"] is False  # the same provider id on another channel is another message
