"""Desktop notifications in headless Chromium: opt in (and out), a new message, an assignment
and a mention notify while the page is in the background, a click opens the conversation.

Headless Chromium shows no notifications and never hides a page, so the page gets two
stand-ins at the browser's edge: ``Notification`` records what would be shown (permission
and its request stay the browser's own), and the test says when the page is hidden."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hub.api.keys import SERVICES
from hub.auth import accounts
from tests.factories import send_inbound
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BROWSER_EDGE = """
(() => {
  const Real = window.Notification;
  let hidden = false;
  window.__shown = [];
  window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  class Recorded extends EventTarget {
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options = {}) { super(); this.title = title; this.body = options.body || ""; window.__shown.push(this); }
    close() { this.closed = true; }
  }
  window.Notification = Recorded;
})();
"""


async def shown(page: Any) -> list[str]:
    titles: list[str] = await page.evaluate("window.__shown.map((n) => n.title)")
    return titles


async def wait_shown(page: Any, title: str) -> None:
    await page.wait_for_function("(title) => window.__shown.some((n) => n.title === title)", arg=title)


async def bearer(hub: Hub, user_id: int) -> dict[str, str]:
    _, token = await accounts.create_token(hub.client.app[SERVICES], user_id=user_id, name="t", actor_id=None)
    return {"Authorization": f"Bearer {token}"}


async def test_desktop_notifications_when_the_page_is_in_the_background(hub: Hub, new_page: NewPage) -> None:
    anna_id = await hub.user("anna@example.test", "Anna Schmidt")
    ben_id = await hub.user("ben@example.test", "Ben Berger")
    supervisor = await bearer(hub, await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=()))
    page = await new_page(permissions=("notifications",))
    await page.add_init_script(BROWSER_EDGE)
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    toggle = page.locator("#notify-toggle")
    await expect(toggle).to_have_attribute("aria-pressed", "false")  # off until asked for

    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(toggle).to_have_text("Desktop notifications on")
    await page.reload()  # the choice is the browser's, kept across a reload
    await page.wait_for_selector("#live-status[data-state=live]")
    await expect(toggle).to_have_attribute("aria-pressed", "true")

    await page.evaluate("window.__setHidden(true)")
    first = await send_inbound(hub.client, text="Hallo?", sender={"email": "n1@example.test"})
    await wait_shown(page, f"New message in conversation #{first['conversation_id']}")
    resp = await hub.client.put(f"/api/v1/conversations/{first['conversation_id']}/assignee",
                                json={"agent_id": anna_id}, headers=supervisor)
    assert resp.status == 200, await resp.text()
    await wait_shown(page, f"Conversation #{first['conversation_id']} was assigned to you.")
    resp = await hub.client.post(f"/api/v1/conversations/{first['conversation_id']}/messages",
                                 json={"body": "@Anna bitte", "private": True, "mentions": [anna_id]},
                                 headers=await bearer(hub, ben_id))
    assert resp.status == 201, await resp.text()
    await wait_shown(page, f"You were mentioned in conversation #{first['conversation_id']}.")

    # In front, a new message is in the list, not on the desktop.
    await page.evaluate("window.__setHidden(false)")
    second = await send_inbound(hub.client, text="Noch da?", sender={"email": "n2@example.test"})
    await page.locator(f"#conversation-list li[data-id='{second['conversation_id']}']").wait_for()
    assert f"New message in conversation #{second['conversation_id']}" not in await shown(page)

    # A click on the notification opens its conversation.
    await page.evaluate("window.__shown[0].dispatchEvent(new Event('click'))")
    await page.wait_for_url(f"{hub.base}/inbox/{first['conversation_id']}")
    assert await page.evaluate("window.__shown[0].closed") is True
    await screenshot(page, "inbox_notification_opened")

    # Turned off: nothing more on the desktop.
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await page.evaluate("window.__setHidden(true)")
    third = await send_inbound(hub.client, text="Hallo nochmal", sender={"email": "n3@example.test"})
    await page.locator(f"#conversation-list li[data-id='{third['conversation_id']}']").wait_for()
    assert f"New message in conversation #{third['conversation_id']}" not in await shown(page)


async def test_a_browser_that_blocks_notifications_says_so(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()  # no permission granted: the browser refuses
    await log_in(page, hub, "anna@example.test")
    await page.click("#notify-toggle")
    await page.locator(".toast-error", has_text="Notifications are blocked in this browser.").wait_for()
    await expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "false")
