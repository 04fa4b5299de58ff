"""Batched ingest keeps every row with its own message when many senders share a commit."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

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
URL = "/api/v1/channels/web-form/messages"


def sender(i: int) -> dict[str, str]:
    """Distinct senders with mixed identity kinds, so the batch inserts each kind."""
    if i % 3 == 0:
        return {"email": f"kunde.{i}@example.de"}
    if i % 3 == 1:
        return {"phone": f"+49 151 {20_000_000 + i}"}
    return {"external_id": f"user-{i}"}


def address(i: int) -> str:
    if i % 3 == 0:
        return f"kunde.{i}@example.de"
    if i % 3 == 1:
        return f"+4915{120_000_000 + i}"
    return f"api.web-form:user-{i}"


async def post(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(URL, json=body, headers=AUTH)
    assert resp.status == 202, await resp.text()
    return dict(await resp.json())


async def test_many_new_senders_in_one_commit_each_get_their_own_contact(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.inbox.batcher")
    count = 60
    bodies = [
        {"id": f"b-{i}", "sender": {**sender(i), "name": f"Kunde {i}"}, "text": f"Nachricht {i}"}
        for i in range(count)
    ]
    # a replay inside the same burst and a second message of one sender
    bodies.append(dict(bodies[7]))
    bodies.append({"id": "b-again", "sender": sender(9), "text": "noch einmal"})
    results = await asyncio.gather(*(post(client, b) for b in bodies))

    async with client.app[SERVICES].sessions() as session:
        owner = {a: c for a, c in await session.execute(select(ContactIdentity.address, ContactIdentity.contact_id))}
        for i, result in enumerate(results[:count]):
            message = await session.get(Message, result["message_id"])
            assert message is not None and message.text == f"Nachricht {i}"
            assert message.conversation_id == result["conversation_id"]
            conversation = await session.get(Conversation, result["conversation_id"])
            assert conversation is not None
            assert conversation.contact_id == owner[address(i)], i
            contact = await session.get(Contact, conversation.contact_id)
            assert contact is not None and contact.name == f"Kunde {i}"
        timeline = dict((await session.execute(select(TimelineEntry.message_id, TimelineEntry.contact_id))).all())
        received = {
            e.data["message_id"]: e.conversation_id
            for e in (await session.scalars(select(EventRecord).where(EventRecord.type == "message.received")))
        }
    for i, result in enumerate(results[:count]):
        assert timeline[result["message_id"]] == owner[address(i)]
        assert received[result["message_id"]] == result["conversation_id"]
    replay, again = results[count], results[count + 1]
    assert replay == {**results[7], "duplicate": True}
    assert again["conversation_id"] == results[9]["conversation_id"] and not again["duplicate"]
    assert len(received) == count + 1
    # each batch committed whole: none fell back to one transaction per message
    assert not [r for r in caplog.records if r.name == "hub.inbox.batcher"]
