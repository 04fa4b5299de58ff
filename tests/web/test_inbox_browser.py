"""The agents' inbox in headless Chromium: live arrival, reply, note, live assignment, German."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from hub.api.keys import SERVICES
from hub.auth import accounts
from hub.db.models import Message
from tests.factories import send_inbound
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_a_new_message_appears_live_and_the_agent_replies_and_notes(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    await page.wait_for_selector("#list-empty:not([hidden])")

    sent = await send_inbound(
        hub.client, text="Meine Bestellung ist nicht angekommen.",
        sender={"email": "kunde@example.test", "name": "Klara Kundin"}, subject="Bestellung 4711",
    )
    item = page.locator(f"#conversation-list li[data-id='{sent['conversation_id']}']")
    await item.wait_for()  # arrived over /ws, no reload
    assert "Klara Kundin" in await item.inner_text()

    await item.locator("a").click()
    await page.wait_for_url(f"{hub.base}/inbox/{sent['conversation_id']}")
    thread = page.locator(".thread")
    await thread.get_by_text("Meine Bestellung ist nicht angekommen.").wait_for()
    await page.locator("#contact-pane").get_by_text("kunde@example.test").first.wait_for()

    await page.keyboard.press("r")
    await page.keyboard.type("Wir schicken sie heute noch einmal los.")
    await page.keyboard.press("Control+Enter")
    reply = thread.locator("article.message.out", has_text="Wir schicken sie heute noch einmal los.")
    await reply.wait_for()
    await reply.locator(".msg-status[data-status=sent]").wait_for()  # the receiver took it; the status came live
    assert len(await hub.receiver.wait_for(1)) == 1

    await page.keyboard.press("Escape")
    await page.keyboard.press("n")
    await page.keyboard.type("Kundin ist Stammkundin, Versand priorisieren.")
    await page.keyboard.press("Control+Enter")
    await thread.locator("article.message.note", has_text="Versand priorisieren").wait_for()
    await screenshot(page, "inbox_reply_and_note")


async def test_a_supervisor_assigns_and_the_agent_sees_it_live(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    sent = await send_inbound(hub.client, text="Hallo, bitte Rückruf.", sender={"email": "k2@example.test", "name": "Karl"})
    conversation_id = sent["conversation_id"]

    agent = await new_page()
    await log_in(agent, hub, "anna@example.test")
    await agent.click("button.view[data-view=mine]")
    await agent.wait_for_selector("#list-empty:not([hidden])")

    supervisor = await new_page()
    await log_in(supervisor, hub, "sven@example.test", f"/inbox/{conversation_id}")
    await supervisor.locator(".thread").get_by_text("Hallo, bitte Rückruf.").wait_for()
    await supervisor.select_option("select[name=assignee]", label="Anna Schmidt")

    await agent.locator(f"#conversation-list li[data-id='{conversation_id}']").wait_for()
    await agent.locator(".toast").filter(has_text=f"#{conversation_id}").wait_for()
    await screenshot(agent, "inbox_assigned_live")
    await screenshot(supervisor, "inbox_supervisor_assigns")


async def test_colleagues_on_the_same_conversation_are_warned(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("ben@example.test", "Ben Berger")
    sent = await send_inbound(hub.client, text="Wer hilft mir?", sender={"email": "k3@example.test"})
    path = f"/inbox/{sent['conversation_id']}"
    anna = await new_page()
    await log_in(anna, hub, "anna@example.test", path)
    ben = await new_page()
    await log_in(ben, hub, "ben@example.test", path)
    await anna.locator(".presence-warning", has_text="Ben Berger").wait_for()
    await ben.locator(".presence-warning", has_text="Anna Schmidt").wait_for()
    await ben.keyboard.press("r")
    await ben.keyboard.type("Ich übernehme")
    await anna.locator(".presence-warning", has_text="typing").wait_for()
    await screenshot(anna, "inbox_colleague_typing")


async def test_a_colleague_who_vanishes_without_saying_goodbye_expires(hub: Hub, new_page: NewPage) -> None:
    """Viewing is live-only (nothing in the events table to fall back on): a colleague whose
    browser dies sends no "left", so the warning expires once the heartbeats stop (75 s)."""
    await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("ben@example.test", "Ben Berger")
    sent = await send_inbound(hub.client, text="Wer ist da?", sender={"email": "k11@example.test"})
    path = f"/inbox/{sent['conversation_id']}"
    anna = await new_page()
    await anna.clock.install()
    await log_in(anna, hub, "anna@example.test", path)
    ben = await new_page()
    await log_in(ben, hub, "ben@example.test", path)
    warning = anna.locator(".presence-warning", has_text="Ben Berger")
    await warning.wait_for()
    await ben.context.set_offline(True)  # the goodbye (viewing: false on pagehide) never arrives
    await ben.close()
    await anna.clock.run_for(60_000)
    await expect(warning).to_be_visible()  # within the time-to-live
    await anna.clock.run_for(20_000)
    await expect(warning).to_be_hidden()


async def test_a_draft_survives_a_reload(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    sent = await send_inbound(hub.client, text="Frage", sender={"email": "k4@example.test"})
    page = await new_page()
    await log_in(page, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    await page.locator(".composer textarea").fill("Halb geschriebene Antwort")
    await page.wait_for_selector(".draft-state:has-text('Draft saved')")
    await page.keyboard.press("Escape")
    await page.keyboard.press("n")  # the note has a draft of its own
    await page.keyboard.type("Halbe Notiz")
    await page.wait_for_selector(".draft-state:has-text('Draft saved')")
    await page.reload()
    textarea = page.locator(".composer textarea")
    await page.locator(".thread").get_by_text("Frage").wait_for()
    assert await textarea.input_value() == "Halb geschriebene Antwort"
    await page.keyboard.press("n")
    await expect(textarea).to_have_value("Halbe Notiz")
    await page.keyboard.press("Control+Enter")  # a sent message clears its draft
    await page.locator("article.message.note", has_text="Halbe Notiz").wait_for()
    await page.reload()
    await page.locator(".thread").get_by_text("Frage").wait_for()
    assert await textarea.input_value() == "Halb geschriebene Antwort"
    await page.keyboard.press("n")
    await expect(textarea).to_have_value("")


async def test_the_german_ui_speaks_german(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    await send_inbound(hub.client, text="Hallo", sender={"email": "k5@example.test", "name": "Greta"})
    page = await new_page(locale="de-DE")
    await page.goto(f"{hub.base}/inbox")
    assert await page.locator("#login-form button[type=submit]").inner_text() == "Anmelden"
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    await page.locator("#conversation-list li").first.wait_for()
    assert await page.locator("button.view[data-view=mine]").inner_text() == "Meine"
    assert await page.locator(".mainnav a[aria-current=page]").inner_text() == "Posteingang"
    assert "Offen" in await page.locator("#conversation-list li").first.inner_text()
    await screenshot(page, "inbox_german")


async def test_the_inbox_works_at_phone_width(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    sent = await send_inbound(hub.client, text="Vom Handy", sender={"email": "k6@example.test"})
    page = await new_page(width=390, height=844)
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    await page.locator(f"#conversation-list li[data-id='{sent['conversation_id']}'] a").click()
    await page.locator(".thread").get_by_text("Vom Handy").wait_for()
    assert not await page.locator(".list-pane").is_visible()  # one column at a time
    await page.click(".back-to-list")
    await page.locator(".list-pane").wait_for()
    await screenshot(page, "inbox_phone")


async def test_a_canned_response_is_inserted_with_its_variables_after_a_slash(hub: Hub, new_page: NewPage) -> None:
    admin_id = await hub.user("admin@example.test", "Petra Admin", role="admin", queues=())
    _, token = await accounts.create_token(hub.client.app[SERVICES], user_id=admin_id, name="t", actor_id=None)
    resp = await hub.client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "danke", "title": "Dank", "bodies": {"de": "Danke, {{ contact.name }}! Viele Grüße, {{ agent.name }}",
                                                               "en": "Thanks, {{ contact.name }}! Regards, {{ agent.name }}"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    await hub.user("anna@example.test", "Anna Schmidt")
    sent = await send_inbound(hub.client, text="Hallo", sender={"email": "k7@example.test", "name": "Greta Gans"})
    page = await new_page()
    await log_in(page, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    await page.locator(".thread").get_by_text("Hallo").wait_for()
    await page.keyboard.press("r")
    await page.keyboard.type("/dan")
    option = page.locator(".composer .popup [role=option]", has_text="/danke")
    await option.wait_for()
    await page.keyboard.press("Enter")
    textarea = page.locator(".composer textarea")
    await expect(textarea).to_have_value(re.compile("Greta Gans"))
    assert "Anna Schmidt" in await textarea.input_value()
    assert "/dan" not in await textarea.input_value()
    await screenshot(page, "inbox_canned_inserted")


async def test_the_canned_pick_list_previews_plain_text_in_the_agents_language(hub: Hub, new_page: NewPage) -> None:
    admin_id = await hub.user("admin@example.test", "Petra Admin", role="admin", queues=())
    _, token = await accounts.create_token(hub.client.app[SERVICES], user_id=admin_id, name="t", actor_id=None)
    resp = await hub.client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "beleg", "title": "Beleg", "format": "html",
              "bodies": {"de": "<p>Guten Tag {{ contact.name }},</p><p>anbei der <b>Beleg</b>.</p>",
                         "en": "<p>Hello {{ contact.name }},</p><p>here is the <b>receipt</b>.</p>"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    await hub.user("anna@example.test", "Anna Schmidt", locale="de")
    sent = await send_inbound(hub.client, text="Beleg?", sender={"email": "k10@example.test", "name": "Greta Gans"})
    page = await new_page(locale="de-DE")
    await log_in(page, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    await page.locator(".thread").get_by_text("Beleg?").wait_for()
    await page.keyboard.press("r")
    await page.keyboard.type("/bel")
    option = page.locator(".composer .popup [role=option]", has_text="/beleg")
    await expect(option.locator(".hint")).to_have_text("Guten Tag {{ contact.name }}, anbei der Beleg.")
    await screenshot(page, "inbox_canned_preview")
    await page.keyboard.press("Enter")
    await expect(page.locator(".composer textarea")).to_have_value(re.compile("Guten Tag Greta Gans"))


async def test_a_mention_in_a_note_reaches_the_colleague(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("ben@example.test", "Ben Berger")
    sent = await send_inbound(hub.client, text="Bitte prüfen", sender={"email": "k8@example.test"})
    ben = await new_page()
    await log_in(ben, hub, "ben@example.test")
    anna = await new_page()
    await log_in(anna, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    await anna.locator(".thread").get_by_text("Bitte prüfen").wait_for()
    await anna.keyboard.press("n")
    await anna.keyboard.type("Kannst du das übernehmen, @Be")
    await anna.locator(".composer .popup [role=option]", has_text="Ben Berger").wait_for()
    await anna.keyboard.press("Enter")
    await anna.keyboard.press("Control+Enter")
    await anna.locator("article.message.note .mention", has_text="@Ben Berger").wait_for()
    await ben.locator(".toast", has_text=f"#{sent['conversation_id']}").wait_for()


async def test_email_quotes_collapse_and_the_html_stays_in_a_sandbox(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    sent = await send_inbound(
        hub.client, text="Danke!\n\nAm Montag schrieb Anna:\n> Ihre Bestellung", sender={"email": "k9@example.test"},
        html="<p>Danke!</p><img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>",
    )
    async with hub.client.app[SERVICES].sessions() as session, session.begin():
        await session.execute(update(Message).where(Message.conversation_id == sent["conversation_id"]).values(quote_start=8))
    page = await new_page()
    await log_in(page, hub, "anna@example.test", f"/inbox/{sent['conversation_id']}")
    message = page.locator("article.message.in")
    await message.get_by_text("Danke!").wait_for()
    assert not await message.locator(".quote").is_visible()
    await message.get_by_role("button", name="Show quoted text").click()
    await message.locator(".quote", has_text="Ihre Bestellung").wait_for()
    await message.get_by_role("button", name="Show formatted email").click()
    frame = page.frame_locator("iframe.message-html")
    await frame.locator("p", has_text="Danke!").wait_for()
    assert "pwned" not in await page.title()
    assert await message.locator("iframe.message-html").get_attribute("sandbox") == "allow-same-origin"


async def test_a_saved_view_is_named_in_a_dialog_and_comes_back_after_a_reload(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()
    page.on("dialog", lambda dialog: hub.problems.append(f"a browser dialog was opened: {dialog.type}"))
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    await page.select_option("#filters select[name=status]", "pending")
    trigger = page.locator("#save-view")
    dialog = page.get_by_role("dialog", name="Save this view")
    name = dialog.get_by_label("Name of the view")

    # Esc cancels: nothing saved, the focus is back on the button.
    await trigger.focus()
    await page.keyboard.press("Enter")
    await expect(name).to_be_focused()
    await page.keyboard.type("Verworfen")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(trigger).to_be_focused()

    # An empty name is refused in the dialog; Enter saves.
    await page.keyboard.press("Enter")
    await expect(name).to_have_value("")  # opened afresh
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("alert")).to_have_text("Give the view a name.")
    await expect(name).to_have_attribute("aria-invalid", "true")
    await page.keyboard.type("Wartende")
    await screenshot(page, "inbox_save_view_dialog")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(trigger).to_be_focused()
    await page.locator("#saved-views button.view", has_text="Wartende").wait_for()

    # The server's refusal (the name is taken) shows in the dialog, which stays open.
    await page.keyboard.press("Enter")
    await page.keyboard.type("Wartende")
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("alert")).to_contain_text("Wartende")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(trigger).to_be_focused()

    await page.select_option("#filters select[name=status]", "")
    await page.reload()
    await expect(page.locator("#saved-views button.view")).to_have_text(["Wartende"])  # Verworfen was never saved
    await page.locator("#saved-views button.view", has_text="Wartende").click()
    assert await page.locator("#filters select[name=status]").input_value() == "pending"


async def test_the_save_view_dialog_speaks_german(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt", locale="de")
    page = await new_page(locale="de-DE")
    await log_in(page, hub, "anna@example.test")
    await page.click("#save-view")
    dialog = page.get_by_role("dialog", name="Diese Ansicht speichern")
    await expect(dialog.get_by_label("Name der Ansicht")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("alert")).to_have_text("Bitte geben Sie der Ansicht einen Namen.")
    assert await dialog.get_by_role("button", name="Abbrechen").is_visible()
    assert await dialog.get_by_role("button", name="Speichern").is_visible()
