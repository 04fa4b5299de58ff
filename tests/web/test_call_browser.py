"""A call in the agent's inbox: its entry with duration, outcome and a recording player."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.api.keys import SERVICES
from hub.calls import CallEvent, CallState
from hub.config import ChannelConfig
from hub.crm_link import identities
from hub.inbox.call_recordings import attach_recording
from hub.inbox.calls import record_call_event
from tests.conftest import make_settings
from tests.inbox.callback_receiver import running_receiver
from tests.inbox.outbound_env import channels
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
AUDIO = b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 16
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """The browser tests' hub plus a PBX channel (``pbx``, queue support)."""
    async with running_receiver() as receiver:
        pbx = ChannelConfig(type="cti", name="pbx", queue="support", options={"token": "pbx-token"})
        settings = make_settings(database_url, tmp_path / "data", channels=(*channels(receiver.url), pbx))
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            yield Hub(client, receiver, str(client.make_url("")).rstrip("/"))


async def _answered_call(hub: Hub, agent_id: int) -> int:
    """A call the agent took and talked for 95 s, recorded; its conversation id."""
    services = hub.client.app[SERVICES]
    caller = identities.phone("+4930123456")

    def event(state: CallState, seconds: float) -> CallEvent:
        return CallEvent("pbx", "pbx-77", state, customer=caller, from_number=caller.address,
                         agent=agent_id, occurred_at=T0 + timedelta(seconds=seconds))

    await record_call_event(services, event(CallState.QUEUED, 0))
    await record_call_event(services, event(CallState.TALKING, 20))
    ended = await record_call_event(services, event(CallState.ENDED, 115))
    await attach_recording(services, "pbx", "pbx-77", AUDIO, "audio/mpeg", duration_seconds=95)
    assert ended.call.conversation_id is not None
    return ended.call.conversation_id


async def test_the_call_entry_shows_its_duration_and_plays_the_recording(hub: Hub, new_page: NewPage) -> None:
    anna = await hub.user("anna@example.test", "Anna Schmidt")
    conversation_id = await _answered_call(hub, anna)
    page = await new_page()
    await log_in(page, hub, "anna@example.test", f"/inbox/{conversation_id}")
    entry = page.locator("article.message.call")
    await entry.wait_for()
    body = await entry.locator(".message-body").inner_text()
    assert "Duration 1:35" in body and "answered" in body

    audio = entry.locator("audio")
    assert await audio.get_attribute("preload") == "none"
    assert await audio.get_attribute("controls") is not None
    src = await audio.get_attribute("src")
    assert src is not None and src.startswith("/api/v1/calls/") and "/recordings/" in src
    label_id = await audio.get_attribute("aria-labelledby")
    assert await page.locator(f"#{label_id}").inner_text() == "Recording (1:35)"
    await audio.focus()  # reachable from the keyboard: the native controls take Space and the arrows
    assert await page.evaluate("document.activeElement.tagName") == "AUDIO"
    # The player's URL answers the logged-in agent with the audio, and seeks by byte range.
    status, content_type, size = await page.evaluate(
        """async (url) => {
            const r = await fetch(url, { headers: { Range: "bytes=0-99" } });
            return [r.status, r.headers.get("content-type"), (await r.arrayBuffer()).byteLength];
        }""", src)
    assert (status, content_type, size) == (206, "audio/mpeg", 100)
    assert await entry.get_by_role("link", name="Download").get_attribute("href") == src
    await screenshot(page, "inbox_call_recording")


async def test_a_call_takes_notes_but_offers_no_reply(hub: Hub, new_page: NewPage) -> None:
    anna = await hub.user("anna@example.test", "Anna Schmidt")
    conversation_id = await _answered_call(hub, anna)
    page = await new_page()
    await log_in(page, hub, "anna@example.test", f"/inbox/{conversation_id}")
    composer = page.locator("form.composer")
    await composer.wait_for()
    assert await composer.get_by_role("tab", name="Reply").is_disabled()
    assert await composer.get_by_role("tab", name="Note").get_attribute("aria-selected") == "true"
    await composer.get_by_role("note").filter(has_text="Replies cannot be sent on this channel").wait_for()
    await composer.locator("textarea").fill("Rückruf morgen vereinbart")
    await composer.get_by_role("button", name="Add note").click()
    await page.locator("article.message.note").filter(has_text="Rückruf morgen vereinbart").wait_for()


async def test_the_german_call_entry(hub: Hub, new_page: NewPage) -> None:
    anna = await hub.user("anna@example.test", "Anna Schmidt", locale="de")
    conversation_id = await _answered_call(hub, anna)
    page = await new_page(locale="de-DE")
    await log_in(page, hub, "anna@example.test", f"/inbox/{conversation_id}")
    entry = page.locator("article.message.call")
    await entry.wait_for()
    body = await entry.locator(".message-body").inner_text()
    assert "Dauer 1:35" in body and "angenommen" in body
    label_id = await entry.locator("audio").get_attribute("aria-labelledby")
    assert await page.locator(f"#{label_id}").inner_text() == "Aufzeichnung (1:35)"
    await entry.get_by_role("link", name="Herunterladen").wait_for()
