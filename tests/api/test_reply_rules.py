"""The reply route enforces the channel's declared capabilities with problems the agent UI can show."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from hub.api.keys import ADAPTERS, SERVICES
from hub.channels.base import Capabilities
from hub.db.models import Message, MessageAttachment
from tests.api.conftest import Api

WINDOWED = Capabilities(
    max_text_length=1000, attachments=True, attachment_types=("image/*",), max_attachment_bytes=100,
    reply_window=timedelta(hours=24), templates=True,
)
PNG = base64.b64encode(b"\x89PNG" + b"\x00" * 20).decode()


def declare(api: Api, capabilities: Capabilities) -> None:
    api.client.app[ADAPTERS]["web-form"].capabilities = capabilities


async def age_inbound(api: Api, hours: float) -> None:
    async with api.client.app[SERVICES].sessions() as session, session.begin():
        await session.execute(
            update(Message).where(Message.direction == "in")
            .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
        )


async def test_a_free_reply_after_the_window_is_409_with_a_code_and_a_template_goes(api: Api) -> None:
    declare(api, WINDOWED)
    cid = await api.customer_writes()
    url = f"/api/v1/conversations/{cid}/messages"
    assert (await api.client.post(url, json={"body": "Gern!"}, headers=api.agent)).status == 201
    await age_inbound(api, 25)
    resp = await api.client.post(url, json={"body": "Noch da?"}, headers=api.agent)
    assert resp.status == 409
    problem = await resp.json()
    assert problem["code"] == "reply_window_closed"
    assert problem["detail"].startswith("outside the 24-hour window of channel 'web-form'")
    assert "send an approved template" in problem["detail"]
    assert problem["window_seconds"] == 86400 and problem["templates"] is True
    template = {"name": "order_update", "language": "de", "parameters": ["4711", "Erika"]}
    resp = await api.client.post(url, json={"template": template}, headers=api.agent)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["text"] == "[template order_update (de)]: 4711 · Erika"
    async with api.client.app[SERVICES].sessions() as session:
        options = await session.scalar(select(Message.send_options).where(Message.id == (await resp.json())["id"]))
    assert options == {"template": template}
    assert await api.count(Message, Message.direction == "out") == 2


async def test_templates_tags_and_attachments_the_channel_lacks_are_422(api: Api) -> None:
    declare(api, Capabilities(max_text_length=1000))
    cid = await api.customer_writes()
    url = f"/api/v1/conversations/{cid}/messages"
    cases = [
        ({"template": {"name": "x", "language": "de"}}, "no_templates"),
        ({"body": "hi", "tag": "HUMAN_AGENT"}, "unknown_tag"),
        ({"body": "hi", "attachments": [{"filename": "a.png", "content_type": "image/png", "content_base64": PNG}]},
         "no_attachments"),
        ({"body": "x" * 1001}, "text_too_long"),
    ]
    for body, code in cases:
        resp = await api.client.post(url, json=body, headers=api.agent)
        assert resp.status == 422, body
        assert (await resp.json())["code"] == code
    resp = await api.client.post(url, json={"body": "  "}, headers=api.agent)
    assert resp.status == 422
    resp = await api.client.post(url, json={"private": True, "template": {"name": "x", "language": "de"}}, headers=api.agent)
    assert resp.status == 422
    assert await api.count(Message, Message.direction == "out") == 0


async def test_attachments_within_the_declared_types_and_sizes_are_stored_and_sent(api: Api) -> None:
    declare(api, WINDOWED)
    cid = await api.customer_writes()
    url = f"/api/v1/conversations/{cid}/messages"
    pdf = {"filename": "a.pdf", "content_type": "application/pdf", "content_base64": base64.b64encode(b"%PDF").decode()}
    resp = await api.client.post(url, json={"body": "Anbei", "attachments": [pdf]}, headers=api.agent)
    assert resp.status == 422 and (await resp.json())["code"] == "attachment_type"
    big = {"filename": "b.png", "content_type": "image/png", "content_base64": base64.b64encode(b"x" * 101).decode()}
    resp = await api.client.post(url, json={"body": "Anbei", "attachments": [big]}, headers=api.agent)
    assert resp.status == 422 and (await resp.json())["code"] == "attachment_too_large"
    png = {"filename": "shot.png", "content_type": "image/png", "content_base64": PNG}
    resp = await api.client.post(url, json={"body": "Anbei", "attachments": [png]}, headers=api.agent)
    assert resp.status == 201, await resp.text()
    (view,) = (await resp.json())["attachments"]
    assert (view["filename"], view["content_type"], view["size"]) == ("shot.png", "image/png", 24)
    (payload,) = await api.receiver.wait_for(1)
    assert payload["attachments"] == [png]
    assert await api.count(MessageAttachment) == 1
