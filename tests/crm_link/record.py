"""A customer record with personal data in every place hub keeps it, built through the real API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig, Settings
from hub.db.models import Conversation
from tests.conftest import API_TOKEN, make_settings
from tests.factories import TestUser, send_inbound, services_of

Client = TestClient[Any, Any]


def sending_settings(database_url: str, data_dir: Path) -> Settings:
    """Channels that can send; their callback (a closed port) never answers, so replies stay queued."""
    sending = {"callback_url": "http://127.0.0.1:9/callback", "callback_secret": "s"}
    return make_settings(
        database_url,
        data_dir,
        channels=(
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN, **sending}),
            ChannelConfig(type="api", name="shop", queue="billing", options={"token": API_TOKEN + "-shop", **sending}),
        ),
    )


@dataclass
class Record:
    contact_id: int
    conversation_ids: list[int]
    message_ids: list[int]
    secrets: list[str] = field(default_factory=list)  # every personal string stored for this person


async def contact_of(client: Client, conversation_id: int) -> int:
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.contact_id


async def rich_record(client: Client, admin: TestUser) -> Record:
    """Walburga: two identities, messages with HTML, subject and attachment, a renamed name,
    attributes, a consent with evidence, an idempotent reply still queued, a private note."""
    first = await send_inbound(
        client,
        sender={"email": "Walburga.Z@example.org", "phone": "+49 171 9876543", "name": "Walli Alt"},
        text="Meine Kundennummer ist KX-991-ALPHA",
        html="<p>Geheimtext Bravo</p>",
        subject="Betreff Charlie",
        thread="t-1",
        attachments=[("ausweis-delta.pdf", "application/pdf", b"PDF-ECHO-CONTENT-4711")],
    )
    second = await send_inbound(client, "shop", sender={"phone": "+491719876543"}, text="Zweite Nachricht Mike")
    contact_id = await contact_of(client, first["conversation_id"])
    assert await contact_of(client, second["conversation_id"]) == contact_id
    resp = await client.patch(
        f"/api/v1/contacts/{contact_id}",
        json={"name": "Walburga Zwiebelkoetter", "attributes": {"kundennr": "KD-FOXTROT-22"}},
        headers=admin.headers,
    )
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        f"/api/v1/contacts/{contact_id}/consents",
        json={"purpose": "marketing", "channel": "email", "granted": True,
              "evidence": {"ip": "198.51.100.23", "form": "golf-form-page"}},
        headers=admin.headers,
    )
    assert resp.status == 201, await resp.text()
    messages = [first["message_id"], second["message_id"]]
    for body, private in (("Antwort Hotel India", False), ("Notiz Juliett Kilo", True)):
        resp = await client.post(
            f"/api/v1/conversations/{first['conversation_id']}/messages",
            json={"body": body, "private": private},
            headers={**admin.headers, "Idempotency-Key": f"key-{private}"},
        )
        assert resp.status == 201, await resp.text()
        messages.append((await resp.json())["id"])
    return Record(
        contact_id=contact_id,
        conversation_ids=[first["conversation_id"], second["conversation_id"]],
        message_ids=messages,
        secrets=[
            "Walli Alt", "Walburga Zwiebelkoetter", "walburga.z@example.org", "+491719876543",
            "KX-991-ALPHA", "Geheimtext Bravo", "Betreff Charlie", "ausweis-delta", "PDF-ECHO-CONTENT-4711",
            "Zweite Nachricht Mike", "KD-FOXTROT-22", "198.51.100.23", "golf-form-page", "Antwort Hotel India",
            "Notiz Juliett Kilo",
        ],
    )


async def other_record(client: Client) -> Record:
    """Otto, who has nothing to do with Walburga and must keep all his data."""
    sent = await send_inbound(
        client, sender={"email": "otto.n@example.net", "name": "Otto Normalverbraucher"}, text="Ottos Nachricht Lima",
        attachments=[("otto-papa.txt", "text/plain", b"OTTO-FILE-QUEBEC")],
    )
    return Record(
        contact_id=await contact_of(client, sent["conversation_id"]),
        conversation_ids=[sent["conversation_id"]],
        message_ids=[sent["message_id"]],
        secrets=["Otto Normalverbraucher", "otto.n@example.net", "Ottos Nachricht Lima", "OTTO-FILE-QUEBEC"],
    )
