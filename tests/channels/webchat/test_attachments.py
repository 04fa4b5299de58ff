"""Visitors' files: allowed types only, content checked, names sanitized, size limited, private."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.channels.webchat.files import sanitize_filename
from hub.db.models import Message, MessageAttachment
from tests.channels.webchat.conftest import chat_channel, chat_settings
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import create_user, services_of

Client = TestClient[Any, Any]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Any:
    return chat_settings(database_url, tmp_path / "data", chat_channel(max_attachment_bytes=2048))


def form(content: bytes, filename: str, content_type: str, client_id: str | None = None) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False)  # as browsers send names
    data.add_field("client_id", client_id or uuid.uuid4().hex)
    data.add_field("file", content, filename=filename, content_type=content_type)
    return data


async def upload(client: Client, token: str, data: aiohttp.FormData) -> aiohttp.ClientResponse:
    return await client.post(
        "/widget/site-chat/attachments", data=data, headers={**ORIGIN, "Authorization": f"Bearer {token}"}
    )


async def stored(client: Client) -> tuple[int, int]:
    async with services_of(client).sessions() as session:
        messages = await session.scalar(select(func.count()).select_from(Message))
        files = await session.scalar(select(func.count()).select_from(MessageAttachment))
    return int(messages or 0), int(files or 0)


def test_file_names_lose_paths_and_strange_characters() -> None:
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("C:\\Users\\x\\Rechnung März.pdf") == "Rechnung März.pdf"
    assert sanitize_filename("a<script>.png") == "a_script_.png"
    assert sanitize_filename("\u202eevil\x00.png") == "evil.png"
    assert sanitize_filename("...") == "file"
    assert len(sanitize_filename("x" * 300 + ".pdf")) == 120


async def test_a_visitor_sends_a_picture_the_agent_sees_it_and_only_the_visitor_can_fetch_it(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    token = (await start_session(client))["token"]
    resp = await upload(client, token, form(PNG, "../Foto <1>.png", "image/png"))
    assert resp.status == 201, await resp.text()
    ack = await resp.json()
    assert ack["type"] == "ack"

    detail = await (await client.get(f"/api/v1/conversations/{ack['conversation_id']}", headers=agent.headers)).json()
    (att,) = detail["messages"][0]["attachments"]
    assert att["filename"] == "Foto _1_.png" and att["content_type"] == "image/png" and att["size"] == len(PNG)

    visitor = await Visitor.connect(client, token)
    (shown,) = visitor.ready["messages"][0]["attachments"]
    got = await client.get(f"/widget/site-chat/attachments/{shown['id']}",
                           headers={**ORIGIN, "Authorization": f"Bearer {token}"})
    assert got.status == 200 and await got.read() == PNG
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    await visitor.close()

    stranger = (await start_session(client))["token"]
    denied = await client.get(f"/widget/site-chat/attachments/{shown['id']}",
                              headers={**ORIGIN, "Authorization": f"Bearer {stranger}"})
    assert denied.status == 404
    assert (await client.get(f"/widget/site-chat/attachments/{shown['id']}", headers=ORIGIN)).status == 401


@pytest.mark.parametrize(
    ("content", "filename", "content_type", "status"),
    [
        (b"MZ\x90\x00 windows program", "setup.exe", "application/x-msdownload", 422),  # type not allowed
        (b"<svg onload=alert(1)>", "x.png", "image/png", 422),  # claims PNG, is not
        (b"\xff\xfe\x00bad", "notes.txt", "text/plain", 422),  # not UTF-8
        (PNG + b"\x00" * 4096, "big.png", "image/png", 413),  # over max_attachment_bytes
        (b"", "empty.png", "image/png", 422),
    ],
)
async def test_a_refused_file_stores_nothing(
    client: Client, content: bytes, filename: str, content_type: str, status: int
) -> None:
    token = (await start_session(client))["token"]
    resp = await upload(client, token, form(content, filename, content_type))
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert await stored(client) == (0, 0)


async def test_an_upload_needs_a_visitor_token_and_an_allowed_origin(client: Client) -> None:
    token = (await start_session(client))["token"]
    resp = await client.post("/widget/site-chat/attachments", data=form(PNG, "a.png", "image/png"), headers=ORIGIN)
    assert resp.status == 401
    resp = await client.post(
        "/widget/site-chat/attachments", data=form(PNG, "a.png", "image/png"),
        headers={"Origin": "http://evil.test", "Authorization": f"Bearer {token}"},
    )
    assert resp.status == 403
    assert await stored(client) == (0, 0)
