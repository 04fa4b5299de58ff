"""Outside business hours the widget asks for an email; replies to a visitor who left go by email.

The email channel (``type = "email"``) is built in parallel; until it is on main, a
stand-in adapter registered as ``email`` records what the web chat hands it. It sees
exactly the ``OutboundMessage`` the real email adapter will get.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from hub.api.app import create_app
from hub.channels import registry
from hub.channels.base import ChannelAdapter, SendResult
from hub.channels.webchat.hours import DAYS, parse_business_hours
from hub.config import ChannelConfig
from hub.db.models import Message, WebchatVisitor
from hub.errors import ConfigError
from hub.messages import IdentityKind, OutboundMessage
from tests.channels.webchat.conftest import chat_channel, chat_settings
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]


class RecordingEmail(ChannelAdapter):
    """Stands in for the email adapter: records what it is asked to send."""

    type = "email"
    sent: ClassVar[list[OutboundMessage]] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_message_id=f"<reply-{message.message_id}@hub.test>")


@pytest.fixture
def email_adapter(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RecordingEmail]]:
    RecordingEmail.sent = []
    monkeypatch.setitem(registry.ADAPTERS, "email", RecordingEmail)
    yield RecordingEmail


def closed_today() -> dict[str, str]:
    """Opening hours only on a weekday three days from now: closed whenever the test runs."""
    day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    return {"timezone": "UTC", day: "09:00-17:00"}


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, email_adapter: type[RecordingEmail]
) -> AsyncIterator[Client]:
    settings = chat_settings(
        database_url,
        tmp_path / "data",
        ChannelConfig(type="email", name="support-mail", queue="support", options={}),
        chat_channel(offline_email_channel="support-mail", business_hours=closed_today(), offline_after_seconds=60),
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def reply(client: Client, headers: dict[str, str], conversation_id: int, body: str) -> int:
    resp = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": body}, headers=headers)
    assert resp.status == 201
    return int((await resp.json())["id"])


async def status_of(client: Client, message_id: int) -> tuple[str, str | None]:
    for _ in range(100):
        async with services_of(client).sessions() as session:
            row = (await session.execute(
                select(Message.status, Message.provider_message_id).where(Message.id == message_id)
            )).one()
        if row[0] != "queued":
            return row[0], row[1]
        await asyncio.sleep(0.05)
    raise AssertionError("the reply was never sent")


async def test_outside_business_hours_a_reply_to_a_visitor_who_left_goes_by_email(
    client: Client, email_adapter: type[RecordingEmail]
) -> None:
    config = await (await client.get("/widget/site-chat/config", headers=ORIGIN)).json()
    assert config["online"] is False and config["offline_email"] is True
    agent = await create_user(services_of(client), role="agent", queues=["support"])

    session = await start_session(client, prechat={"name": "Erika"})
    visitor = await Visitor.connect(client, session["token"])
    assert visitor.ready["online"] is False
    await visitor.ws.send_json({"type": "email", "email": "Erika@Example.com"})
    await visitor.expect(lambda f: f["type"] == "email_saved")
    ack = await visitor.say("Bitte melden Sie sich morgen.")
    cid = ack["conversation_id"]

    # While the widget is open, the reply is read there (sent at once: no provider involved).
    live = await reply(client, agent.headers, cid, "Wir sind gleich da.")
    assert await status_of(client, live) == ("sent", None)
    assert email_adapter.sent == []
    await visitor.close()

    # The visitor left a while ago: the next reply continues by email.
    async with services_of(client).sessions() as db, db.begin():
        await db.execute(update(WebchatVisitor).values(disconnected_at=datetime.now(UTC) - timedelta(minutes=5)))
    later = await reply(client, agent.headers, cid, "Hier ist die Antwort.")
    assert await status_of(client, later) == ("sent", f"<reply-{later}@hub.test>")
    (mail,) = email_adapter.sent
    assert mail.channel == "support-mail"
    assert (mail.recipient.kind, mail.recipient.address) == (IdentityKind.EMAIL, "erika@example.com")
    assert mail.text == "Hier ist die Antwort." and mail.conversation_id == cid
    assert mail.thread_key == f"webchat-site-chat-{cid}"

    # And the history still has both when the visitor comes back.
    again = await Visitor.connect(client, session["token"])
    assert [m["text"] for m in again.ready["messages"]][-2:] == ["Wir sind gleich da.", "Hier ist die Antwort."]
    await again.close()


async def test_a_visitor_who_left_no_email_reads_the_reply_on_their_next_visit(
    client: Client, email_adapter: type[RecordingEmail]
) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    session = await start_session(client)
    visitor = await Visitor.connect(client, session["token"])
    ack = await visitor.say("Hallo?")
    await visitor.close()
    async with services_of(client).sessions() as db, db.begin():
        await db.execute(update(WebchatVisitor).values(disconnected_at=datetime.now(UTC) - timedelta(minutes=5)))
    message_id = await reply(client, agent.headers, ack["conversation_id"], "Da sind wir.")
    assert (await status_of(client, message_id))[0] == "sent"
    assert email_adapter.sent == []


def test_business_hours_follow_the_channel_time_zone() -> None:
    hours = parse_business_hours({"timezone": "Europe/Berlin", "mon-fri": "09:00-12:00,13:00-17:00"}, "test")
    monday = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; Berlin is UTC+1 in winter
    assert hours.is_open(monday.replace(hour=8))  # 09:00 in Berlin
    assert not hours.is_open(monday.replace(hour=7, minute=59))
    assert not hours.is_open(monday.replace(hour=11, minute=30))  # lunch break
    assert hours.is_open(monday.replace(hour=15, minute=59))
    assert not hours.is_open(monday.replace(hour=16))
    assert not hours.is_open(monday + timedelta(days=5, hours=10))  # Saturday
    always = parse_business_hours({"mon-sun": "00:00-24:00"}, "test")
    assert always.is_open(monday.replace(hour=23, minute=59))


@pytest.mark.parametrize(
    "table",
    [
        {"timezone": "Mars/Olympus"},
        {"mon": "9-17"},
        {"fri-mon": "09:00-17:00"},
        {"mon": "17:00-09:00"},
        {"someday": "09:00-17:00"},
        "always",
    ],
)
def test_wrong_business_hours_stop_the_start(table: Any) -> None:
    with pytest.raises(ConfigError):
        parse_business_hours(table, "channel 'site-chat': business_hours")
