"""The inbox, the conversation and the wall at 1280×800 and at phone width (390×844), and the
inbox by keyboard alone: nothing scrolls the page sideways, the composer is in reach, the
focus is always visible. Screenshots of each go to tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.factories import send_inbound
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
LONG_WORD = "https://shop.example.test/bestellung/" + "x" * 160


async def no_sideways_scroll(page: Any, what: str) -> None:
    width, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{what}: the page scrolls sideways ({width} > {inner})"


async def in_view(page: Any, locator: Any, what: str) -> None:
    """Visible and wholly inside the viewport without scrolling the page."""
    await expect(locator).to_be_visible()
    box = await locator.bounding_box()
    size = page.viewport_size
    assert box is not None, what
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5, f"{what} sticks out sideways: {box}"
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5, f"{what} is below the fold: {box}"


@pytest.mark.parametrize("size", list(SIZES))
async def test_inbox_conversation_and_wall_fit_the_screen(hub: Hub, new_page: NewPage, size: str) -> None:
    width, height = SIZES[size]
    await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    sent = await send_inbound(hub.client, text=f"Meine Bestellung {LONG_WORD} ist nicht angekommen.",
                              sender={"email": "kundin.mit.sehr.langer.adresse@example.test", "name": "Klara Kundin"},
                              subject="Bestellung 4711 " + "sehr lang " * 12)
    for n in range(12):  # a thread longer than the screen
        await send_inbound(hub.client, text=f"Nachtrag {n}: " + "noch etwas Text " * 8,
                           sender={"email": "kundin.mit.sehr.langer.adresse@example.test"})
    conversation_id = sent["conversation_id"]

    page = await new_page(width=width, height=height)
    await log_in(page, hub, "anna@example.test")
    await page.click("button.view[data-view=queues]")
    item = page.locator(f"#conversation-list li[data-id='{conversation_id}']")
    await item.wait_for()
    await no_sideways_scroll(page, "the list")
    await in_view(page, item, "the list item")
    await screenshot(page, f"layout_{size}_inbox")

    await item.locator("a").click()
    await page.locator(".thread").get_by_text("Nachtrag 11").wait_for()
    await no_sideways_scroll(page, "the conversation")
    composer = page.locator(".composer textarea")
    await in_view(page, composer, "the composer")
    await in_view(page, page.locator(".composer button[type=submit]"), "the send button")
    thread = await page.locator(".thread").bounding_box()
    assert thread is not None and thread["height"] >= 0.4 * height, f"the thread gets too little room: {thread}"
    await composer.fill("Wir kümmern uns darum.")
    await screenshot(page, f"layout_{size}_conversation")
    assignee = page.locator("select[name=assignee]")
    if size == "phone":  # the actions fold behind a button
        toggle = page.get_by_role("button", name="Actions")
        await expect(assignee).to_be_hidden()
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
    await in_view(page, assignee, "the assignee picker")
    await no_sideways_scroll(page, "the conversation with its actions")

    wall = await new_page(width=width, height=height)
    await log_in(wall, hub, "sven@example.test", "/wall")
    await wall.wait_for_selector("body[data-ready=wall]")
    await wall.locator(f"#wall-waiting li[data-conversation-id='{conversation_id}']").wait_for()
    await no_sideways_scroll(wall, "the wall")
    await screenshot(wall, f"layout_{size}_wall")


FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {tag: el.tagName, id: el.id, text: (el.textContent || "").trim().slice(0, 30),
          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
}"""


async def focused(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(FOCUS_STYLE)
    return result


async def test_the_inbox_works_by_keyboard_alone_with_the_focus_always_visible(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    ids = [(await send_inbound(hub.client, text=f"Frage {n}", sender={"email": f"k{n}@example.test"}))["conversation_id"]
           for n in range(3)]
    page = await new_page()
    await log_in(page, hub, "anna@example.test")
    await page.locator("body").focus()

    # Tab reaches the views; every stop on the way shows where the focus is.
    for _ in range(30):
        await page.keyboard.press("Tab")
        stop = await focused(page)
        assert stop["outline"], f"no visible focus on {stop}"
        if stop["text"] == "My queues":
            break
    else:
        raise AssertionError("Tab never reached the 'My queues' view")
    await page.keyboard.press("Enter")
    newest_first = list(reversed(ids))
    await expect(page.locator("#conversation-list li")).to_have_count(3)

    await page.keyboard.press("Escape")  # nothing to leave: a no-op
    await page.locator("body").focus()
    await page.keyboard.press("j")
    await page.wait_for_url(f"{hub.base}/inbox/{newest_first[0]}")
    await page.keyboard.press("j")
    await page.wait_for_url(f"{hub.base}/inbox/{newest_first[1]}")
    await page.keyboard.press("k")
    await page.wait_for_url(f"{hub.base}/inbox/{newest_first[0]}")
    await page.locator(".thread").get_by_text("Frage 2").wait_for()

    await page.keyboard.press("r")
    composer = page.locator(".composer textarea")
    await expect(composer).to_be_focused()
    assert (await focused(page))["outline"]
    await page.keyboard.type("Antwort kommt")
    await page.keyboard.press("Escape")
    await expect(composer).not_to_be_focused()
    await page.keyboard.press("n")
    await expect(composer).to_be_focused()
    await expect(page.locator(".composer-tabs [aria-selected=true]")).to_have_text("Note")
    await page.keyboard.type("Nur intern")
    await page.keyboard.press("Control+Enter")
    await page.locator("article.message.note", has_text="Nur intern").wait_for()
    await page.keyboard.press("Escape")

    await page.keyboard.press("a")
    await expect(page.locator(".conv-head select[name=assignee] option:checked")).to_have_text("Anna Schmidt")
    await page.keyboard.press("e")
    await expect(page.locator(".conv-head select[name=status]")).to_have_value("resolved")

    await page.keyboard.press("/")
    await expect(page.locator("#search")).to_be_focused()
    await page.keyboard.press("Escape")  # leaves the field: the shortcuts work again
    await expect(page.locator("#search")).not_to_be_focused()
    await page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(help_dialog).to_be_visible()
    selected = page.locator("#conversation-list li.selected")
    await expect(selected).to_have_attribute("data-id", str(newest_first[0]))
    await page.keyboard.press("j")  # the dialog has the keyboard: the list cursor (moved at once by j) stays
    await expect(selected).to_have_attribute("data-id", str(newest_first[0]))
    await screenshot(page, "inbox_keyboard_help")
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
