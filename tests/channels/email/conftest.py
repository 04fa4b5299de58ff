"""Real servers for the email channel: a throw-away Dovecot (IMAP) and aiosmtpd (SMTP).

``mailbox`` is a fresh IMAP account per test; ``other_client`` is "somebody else's
mail program" on it (appends, reads, deletes). ``smtp`` records what the hub sends
and can be told to answer 4xx or 5xx. ``email_hub`` runs the whole hub app with an
email channel on both, on each database backend.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aioimaplib
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.config import ChannelConfig, QueueConfig
from hub.db.models import Message, QuarantinedItem
from hub.services import Services
from tests.channels.email.dovecot import Dovecot, Mailbox, free_port
from tests.conftest import API_TOKEN, make_settings
from tests.factories import services_of
from tests.services import service_missing

CHANNEL = "support-mail"
FIXTURES_DIR = Path(__file__).parents[2] / "fixtures" / "email"
ADDRESS = "support@example.com"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    reason = Dovecot.available()
    if reason is not None:
        service_missing("Dovecot", reason)
    # Not under pytest's tmp dir: Dovecot's own users must be able to traverse the path.
    root = Path(tempfile.mkdtemp(prefix="hub-dovecot-", dir="/tmp"))
    server = Dovecot(root)
    try:
        server.start()
    except Exception as exc:
        shutil.rmtree(root, ignore_errors=True)
        service_missing("Dovecot", exc)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return dovecot.add_user()


class OtherClient:
    """Another mail program on the same mailbox: what a colleague's Outlook would do."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self._client: aioimaplib.IMAP4 | None = None

    async def _connect(self) -> aioimaplib.IMAP4:
        if self._client is None:
            client = aioimaplib.IMAP4(self.mailbox.host, self.mailbox.port, timeout=30)
            await client.wait_hello_from_server()
            response = await client.login(self.mailbox.username, self.mailbox.password)
            assert response.result == "OK", response
            self._client = client
        return self._client

    async def append(
        self, raw: bytes, folder: str = "INBOX", flags: str | None = None, arrived: datetime | None = None
    ) -> int:
        client = await self._connect()
        response = await client.append(raw, mailbox=folder, flags=flags, date=arrived)
        assert response.result == "OK", response
        text = response.lines[0].decode()
        return int(text.split("APPENDUID ", 1)[1].split()[1].rstrip("]"))

    async def command(self, name: str, *args: str) -> Any:
        client = await self._connect()
        response = await getattr(client, name)(*args)
        assert response.result == "OK", response
        return response

    async def select(self, folder: str = "INBOX") -> None:
        await self.command("select", folder)

    async def uids(self, folder: str = "INBOX") -> list[int]:
        await self.select(folder)
        response = await self.command("uid_search", "ALL")
        return [int(x) for x in response.lines[0].split()] if response.lines[0].strip() else []

    async def flags(self, uid: int, folder: str = "INBOX") -> bytes:
        await self.select(folder)
        response = await self.command("uid", "fetch", str(uid), "(FLAGS)")
        return b" ".join(line for line in response.lines if isinstance(line, bytes))

    async def close(self) -> None:
        if self._client is not None:
            try:
                await self._client.logout()
            except Exception:
                pass
            transport = self._client.protocol.transport
            if transport is not None:
                transport.close()


@pytest.fixture
async def other_client(mailbox: Mailbox) -> AsyncIterator[OtherClient]:
    client = OtherClient(mailbox)
    yield client
    await client.close()


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps every accepted mail and answers as told."""

    received: list[Any] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # next DATA answers, e.g. "451 4.7.1 later"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            answer = self.answers.pop(0)
            if not answer.startswith("250"):
                return answer
        self.received.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer("127.0.0.1", port, recorder)
    controller.stop()


def email_channel(
    mailbox: Mailbox | None, smtp: SmtpServer | None, *, name: str = CHANNEL, **options: Any
) -> ChannelConfig:
    """An email channel on the test servers, with quick timings."""
    values: dict[str, Any] = {"address": ADDRESS, "display_name": "Beispiel Support"}
    if mailbox is not None:
        values.update(
            imap_host=mailbox.host,
            imap_port=mailbox.port,
            imap_security="none",
            imap_username=mailbox.username,
            imap_password=mailbox.password,
            poll_seconds=0.3,
            gap_check_seconds=3600,
            imap_timeout=20,
            first_sync_days="all",
        )
    if smtp is not None:
        values.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none")
    values.update(options)
    values = {k: v for k, v in values.items() if v is not None}
    return ChannelConfig(type="email", name=name, queue="support", options=values)


HubFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def email_hub(
    database_url: str, tmp_path: Path, mailbox: Mailbox, smtp: SmtpServer
) -> AsyncIterator[HubFactory]:
    """Start the hub with an email channel (options override the test defaults); stopped after the test."""
    clients: list[TestClient[Any, Any]] = []

    async def start(*, extra: tuple[ChannelConfig, ...] = (), **options: Any) -> TestClient[Any, Any]:
        settings = make_settings(
            database_url,
            tmp_path / "data",
            queues=(QueueConfig("support"),),
            channels=(
                email_channel(mailbox, smtp, **options),
                ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN}),
                *extra,
            ),
            outbox_poll_seconds=0.2,
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 45.0, what: str = "condition") -> None:
    """Wait until ``check()`` is true (polling); fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if await check():
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def count_inbound(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) or 0)


async def count_quarantined(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(QuarantinedItem)) or 0)


async def wait_for_inbound(client: TestClient[Any, Any], n: int, seconds: float = 45.0) -> None:
    services = services_of(client)

    async def enough() -> bool:
        return await count_inbound(services) >= n

    await eventually(enough, seconds, f"{n} inbound messages")


def plain_mail(
    n: int,
    *,
    sender: str = "kunde@example.org",
    subject: str | None = None,
    body: str | None = None,
    headers: str = "",
) -> bytes:
    """A simple customer mail with Message-ID ``<m<n>@example.org>``."""
    text = body or f"Nachricht Nummer {n}."
    return (
        f"From: Kunde {n} <{sender}>\r\nTo: {ADDRESS}\r\nSubject: {subject or f'Frage {n}'}\r\n"
        f"Date: Mon, 02 Dec 2030 10:00:{n % 60:02d} +0000\r\nMessage-ID: <m{n}@example.org>\r\n{headers}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()
