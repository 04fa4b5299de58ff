"""Slack's Events API end to end: payloads as Slack documents them, signed as Slack signs."""

from __future__ import annotations

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
    Message,
    MessageAttachment,
    ThreadKey,
)
from tests.channels.db import count, rows
from tests.channels.fixtures import raw
from tests.channels.provider_stub import ProviderStub
from tests.channels.slack.conftest import OTHER_SECRET, PNG, TEAM, deliver, event, sign


async def test_the_url_verification_challenge_is_answered(slack_client: TestClient[Any, Any]) -> None:
    resp = await deliver(slack_client, raw("slack", "url_verification.json"))
    assert resp.status == 200
    assert await resp.text() == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


async def test_a_direct_message_lands_on_a_contact_filled_from_the_slack_profile(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    resp = await deliver(slack_client, raw("slack", "message_im.json"))
    assert resp.status == 200
    (message,) = await rows(slack_client, select(Message.text, Message.provider_message_id, Message.created_at))
    assert message.text == "Hello hello can you hear me?"
    assert message.provider_message_id == "D024BE91L:1355517523.000005"
    assert message.created_at.timestamp() == pytest.approx(1355517523.000005)
    (contact,) = await rows(slack_client, select(Contact.name))
    assert contact.name == "Egon Spengler"
    identities = await rows(slack_client, select(ContactIdentity.kind, ContactIdentity.address).order_by(ContactIdentity.id))
    assert [tuple(i) for i in identities] == [
        ("platform", f"slack.{TEAM}:U2147483697"),
        ("email", "spengler@ghostbusters.example.com"),
    ]
    (lookup,) = slack.calls("/api/users.info")
    assert lookup.query["user"] == "U2147483697"
    assert lookup.headers["Authorization"] == "Bearer xoxb-acme-test-token"
    (conversation,) = await rows(slack_client, select(Conversation.channel_id, Conversation.status))
    assert conversation.status == "open"


async def test_a_wrong_signature_is_401_and_stores_nothing(slack_client: TestClient[Any, Any], slack: ProviderStub) -> None:
    body = raw("slack", "message_im.json")
    for headers in (sign(body, secret="not-the-secret"), sign(body, timestamp=1355517523), {}):
        resp = await deliver(slack_client, body, headers or {"Content-Type": "application/json"})
        assert resp.status == 401
        assert (await resp.json())["title"] == "Unauthorized"
    tampered = sign(body)
    resp = await deliver(slack_client, body.replace(b"hear me", b"hack me"), tampered)
    assert resp.status == 401
    assert await count(slack_client, Message) == 0
    assert slack.requests == []  # nothing was even looked up


async def test_a_retried_event_and_a_second_event_for_the_same_message_store_it_once(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    body = raw("slack", "message_im.json")
    assert (await deliver(slack_client, body)).status == 200
    retry = {**sign(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await deliver(slack_client, body, retry)).status == 200
    assert len(slack.calls("/api/users.info")) == 1  # the retry of a taken event does no work
    # The same message delivered again under another event id (e.g. also as app_mention).
    assert (await deliver(slack_client, event("message_im.json", event_id="Ev0PV52K99"))).status == 200
    assert await count(slack_client, Message) == 1


async def test_an_unknown_event_type_is_acknowledged_and_logged(
    slack_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hub.api.webhooks"):
        resp = await deliver(slack_client, raw("slack", "reaction_added.json"))
    assert resp.status == 200
    assert "event reaction_added acknowledged and ignored" in caplog.text
    assert await count(slack_client, Message) == 0


async def test_bots_colleagues_and_internal_channels_are_not_customers(slack_client: TestClient[Any, Any]) -> None:
    for name in ("message_im_from_our_bot.json", "shared_channel_colleague_message.json"):
        assert (await deliver(slack_client, raw("slack", name))).status == 200
    internal = event("internal_channel_message.json", team_id=TEAM)
    assert (await deliver(slack_client, internal)).status == 200
    assert await count(slack_client, Message) == 0


async def test_a_shared_channel_threads_by_thread_ts_and_each_root_is_a_conversation(
    slack_client: TestClient[Any, Any],
) -> None:
    for name in ("shared_channel_root_message.json", "shared_channel_thread_reply.json",
                 "shared_channel_second_root_message.json"):
        assert (await deliver(slack_client, raw("slack", name))).status == 200
    found = await rows(slack_client, select(Message.conversation_id, Message.text).order_by(Message.id))
    assert [m.conversation_id for m in found] == [found[0].conversation_id] * 2 + [found[2].conversation_id]
    assert found[0].conversation_id != found[2].conversation_id
    identity = await rows(slack_client, select(ContactIdentity.address).where(ContactIdentity.kind == "platform"))
    assert [i.address for i in identity] == ["slack.T0CUSTOMR:W0CUSTOM1"]  # namespaced by the customer's workspace
    keys = await rows(slack_client, select(ThreadKey.key).order_by(ThreadKey.id))
    assert keys[0].key == "C0SHARED1:1700000000.000100"


async def test_direct_messages_continue_the_open_conversation(slack_client: TestClient[Any, Any]) -> None:
    for name in ("message_im.json", "message_im_follow_up.json"):
        assert (await deliver(slack_client, raw("slack", name))).status == 200
    assert await count(slack_client, Conversation) == 1
    assert await count(slack_client, Message) == 2


async def test_each_workspace_goes_to_its_own_channel_and_an_unknown_one_is_logged(
    slack_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    other = event("message_im.json", team_id="T0OTHER00")
    assert (await deliver(slack_client, other, sign(other, secret=OTHER_SECRET))).status == 200
    found = await rows(slack_client, select(Conversation.queue_id, Message.channel_id).join(Message))
    services = slack_client.app[SERVICES]
    assert [tuple(r) for r in found] == [(services.queues["billing"], services.endpoints["slack-other"].channel_id)]
    stranger = event("message_im.json", team_id="T0NOBODY0")
    with caplog.at_level(logging.WARNING, logger="hub.api.webhooks"):
        assert (await deliver(slack_client, stranger)).status == 200
    assert "no configured channel serves team T0NOBODY0" in caplog.text
    assert await count(slack_client, Message) == 1


async def test_shared_files_are_downloaded_with_the_bot_token_within_limits(
    slack_client: TestClient[Any, Any], slack: ProviderStub
) -> None:
    body = raw("slack", "file_share_im.json", api=slack.url)
    assert (await deliver(slack_client, body)).status == 200
    (message,) = await rows(slack_client, select(Message.text))
    assert message.text.startswith("Here is the screenshot.\n")
    assert "[attachment recording.mp4 not stored: larger than" in message.text
    (attachment,) = await rows(slack_client, select(MessageAttachment.filename, MessageAttachment.content_type,
                                                     MessageAttachment.size))
    assert tuple(attachment) == ("screenshot.png", "image/png", len(PNG))
    assert len(slack.calls("/files-pri/T061EG9R6-F0SCREEN1/download/screenshot.png")) == 1
    assert not [r for r in slack.requests if "F0HUGEVID" in r.path]  # never fetched


async def test_a_malformed_envelope_is_400(slack_client: TestClient[Any, Any]) -> None:
    for body in (b"not json", b'{"no": "type"}'):
        resp = await deliver(slack_client, body)
        assert resp.status in (400, 422)
    assert await count(slack_client, Message) == 0


async def test_an_edit_is_stored_as_its_own_message_linked_to_the_original(slack_client: TestClient[Any, Any]) -> None:
    for name in ("message_im.json", "message_im_edited.json", "message_im_edited.json",
                 "message_changed_link_preview.json"):
        assert (await deliver(slack_client, raw("slack", name))).status == 200
    found = await rows(slack_client, select(Message.conversation_id, Message.text, Message.edit_of,
                                            Message.provider_message_id).order_by(Message.id))
    assert [(m.text, m.edit_of) for m in found] == [
        ("Hello hello can you hear me?", None),
        ("Hello hello can you hear me now?", "D024BE91L:1355517523.000005"),
    ]
    assert found[1].provider_message_id == "D024BE91L:1355517523.000005:edit:1358878755.000001"
    assert found[0].conversation_id == found[1].conversation_id
