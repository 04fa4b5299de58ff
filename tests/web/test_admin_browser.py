"""The admin pages in headless Chromium: a canned response an agent then uses, users, channels, audit, German."""

from __future__ import annotations

import pytest

from tests.factories import send_inbound
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_an_admin_writes_a_canned_response_and_an_agent_renders_it(hub: Hub, new_page: NewPage) -> None:
    await hub.user("ada@example.test", "Ada Admin", role="admin", queues=())
    await hub.user("anna@example.test", "Anna Schmidt")
    sent = await send_inbound(hub.client, text="Wann kommt mein Paket?",
                              sender={"email": "k@example.test", "name": "Klara <b>Kundin</b>"})

    admin = await new_page()
    await log_in(admin, hub, "ada@example.test", "/admin/canned")
    await admin.wait_for_selector("body[data-ready=admin-canned]")
    assert "{{ contact.name }}" in await admin.locator("#canned-variables").inner_text()
    form = admin.locator("#canned-form")
    await form.get_by_label("Shortcut").fill("paket")
    await form.get_by_label("Title").fill("Paketstatus")
    await form.get_by_label("Text (German)").fill("Hallo {{ contact.name }}, Ihr Paket kommt morgen. {{ agent.name }}")
    await form.get_by_label("Text (English)").fill("Hello {{ contact.name }}, your parcel arrives tomorrow.")
    await form.get_by_role("button", name="Save").click()
    await admin.locator("#canned tr[data-shortcut=paket]").wait_for()
    # A template that does not compile is refused with the reason, and nothing is stored.
    await form.get_by_label("Shortcut").fill("kaputt")
    await form.get_by_label("Title").fill("Kaputt")
    await form.get_by_label("Text (German)").fill("Hallo {{ contact.name ")
    await form.get_by_role("button", name="Save").click()
    await admin.locator("#admin-status", has_text="does not compile").wait_for()
    assert await admin.locator("#canned tr[data-shortcut=kaputt]").count() == 0
    await screenshot(admin, "admin_canned")

    agent = await new_page(locale="de-DE")
    await log_in(agent, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    textarea = agent.locator(".composer textarea")
    await textarea.click()
    await textarea.type("/pak")
    await agent.locator(".composer .popup li[role=option]", has_text="paket").wait_for()
    await textarea.press("Enter")
    expected = "Hallo Klara <b>Kundin</b>, Ihr Paket kommt morgen. Anna Schmidt"
    await agent.wait_for_function("e => document.querySelector('.composer textarea').value.includes(e)", arg=expected)


async def test_an_admin_changes_a_role_and_deactivates_a_user_and_reads_the_audit_log(
    hub: Hub, new_page: NewPage
) -> None:
    await hub.user("ada@example.test", "Ada Admin", role="admin", queues=())
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()
    await log_in(page, hub, "ada@example.test", "/admin/users")
    await page.wait_for_selector("body[data-ready=admin-users]")
    row = page.locator("#users tr", has_text="anna@example.test")
    await row.get_by_role("button", name="Edit").click()
    form = page.locator("#user-form")
    assert await form.get_by_label("Name").input_value() == "Anna Schmidt"
    await form.get_by_label("Role").select_option("supervisor")
    await form.get_by_label("billing").check()
    await form.get_by_label("Skills").fill("german:5, english:3")
    await form.get_by_label("Active (may log in)").uncheck()
    await form.get_by_role("button", name="Save").click()
    await page.locator("#users tr", has_text="anna@example.test").filter(has_text="deactivated").wait_for()
    assert "Supervisor" in await row.inner_text() and "english:3" in await row.inner_text()
    await screenshot(page, "admin_users")

    await page.click(".admin-nav a[href='/admin/audit']")
    await page.wait_for_selector("body[data-ready=admin-audit]")
    await page.locator("#audit tr", has_text="user.updated").filter(has_text="Ada Admin").wait_for()
    await screenshot(page, "admin_audit")


async def test_channels_queues_and_sla_pages_in_german(hub: Hub, new_page: NewPage) -> None:
    await hub.user("ada@example.test", "Ada Admin", role="admin", queues=())
    await send_inbound(hub.client, text="Hallo", sender={"email": "x@example.test"})
    page = await new_page(locale="de-DE")
    await log_in(page, hub, "ada@example.test", "/admin/channels")
    await page.wait_for_selector("body[data-ready=admin-channels]")
    assert await page.locator("#admin-title").inner_text() == "Kanäle"
    web_form = page.locator("#channels tr[data-channel='web-form']")
    assert "Webhook (keine Verbindung)" in await web_form.inner_text()
    assert "–" not in (await web_form.locator("td").nth(5).inner_text())  # the last message's time
    await screenshot(page, "admin_channels_de")

    await page.click(".admin-nav a[href='/admin/queues']")
    await page.wait_for_selector("body[data-ready=admin-queues]")
    assert "config/hub.toml" in await page.locator(".note").inner_text()
    assert await page.locator("#queues tbody tr").count() == 2
    await page.click(".admin-nav a[href='/admin/sla']")
    await page.wait_for_selector("body[data-ready=admin-sla]")
    assert await page.locator("#sla-empty").inner_text() == "Keine SLA-Richtlinien konfiguriert."
    # Phone width: the sections still fit.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.click(".admin-nav a[href='/admin/users']")
    await page.wait_for_selector("body[data-ready=admin-users]")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "admin_users_phone_de")
