"""The supervisor wall in headless Chromium: live queue counts, re-assign by click and by drag, alerts, German."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from hub import events as ev
from hub.api.keys import SERVICES
from hub.config import QueueConfig
from hub.db.models import EventRecord, RoutingOutcome, utcnow
from tests.factories import send_inbound
from tests.web.conftest import Hub, NewPage, log_in, screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def queue_cell(page: object, queue: str, column: str) -> object:
    return page.locator(f"#wall-queues tr[data-queue='{queue}'] td.{column}")  # type: ignore[attr-defined]


async def test_the_wall_shows_a_new_conversation_arrive_live(hub: Hub, new_page: NewPage) -> None:
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()
    await log_in(page, hub, "sven@example.test", "/wall")
    await page.wait_for_selector("body[data-ready=wall]")
    waiting = queue_cell(page, "support", "waiting")
    assert await waiting.inner_text() == "0"
    assert await page.locator("#wall-waiting-empty").is_visible()

    sent = await send_inbound(hub.client, text="Wo bleibt meine Lieferung?", sender={"email": "k@example.test", "name": "Klara"})
    await page.locator("#wall-queues tr[data-queue='support'] td.waiting", has_text="1").wait_for()  # over /ws, no reload
    item = page.locator(f"#wall-waiting li[data-conversation-id='{sent['conversation_id']}']")
    await item.wait_for()
    assert "Klara" in await item.inner_text()
    assert await queue_cell(page, "billing", "waiting").inner_text() == "0"
    await page.locator("#wall-agents li", has_text="Anna Schmidt").wait_for()
    await screenshot(page, "wall_live")


async def test_a_supervisor_reassigns_by_keyboard_and_by_drag_and_the_agent_sees_it(hub: Hub, new_page: NewPage) -> None:
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    anna_id = await hub.user("anna@example.test", "Anna Schmidt")
    await hub.user("ben@example.test", "Ben Berger")
    first = (await send_inbound(hub.client, text="Bitte Rückruf", sender={"email": "a@example.test"}))["conversation_id"]
    second = (await send_inbound(hub.client, text="Noch eine Frage", sender={"email": "b@example.test"}))["conversation_id"]

    agent = await new_page()
    await log_in(agent, hub, "anna@example.test")
    await agent.click("button.view[data-view=mine]")
    await agent.wait_for_selector("#list-empty:not([hidden])")

    wall = await new_page()
    await log_in(wall, hub, "sven@example.test", "/wall")
    await wall.wait_for_selector("body[data-ready=wall]")
    # Keyboard only: focus the agent picker of the first conversation, choose Anna, press the button.
    picker = wall.locator(f"#assign-{first}")
    await picker.focus()
    await picker.select_option(str(anna_id))
    await wall.keyboard.press("Tab")
    await wall.keyboard.press("Enter")
    await wall.locator("#wall-status", has_text=f"{first}").wait_for()
    await wall.locator(f"#wall-waiting li[data-conversation-id='{first}']").wait_for(state="detached")
    await agent.locator(f"#conversation-list li[data-id='{first}']").wait_for()  # Anna sees it live
    await wall.locator("#wall-agents li", has_text="Anna Schmidt").locator(".load", has_text="1/").wait_for()

    # HTML5 drag and drop onto Ben.
    await wall.locator(f"#wall-waiting li[data-conversation-id='{second}']").drag_to(
        wall.locator("#wall-agents li", has_text="Ben Berger"))
    await wall.locator(f"#wall-waiting li[data-conversation-id='{second}']").wait_for(state="detached")
    detail = await (await hub.client.get(f"/api/v1/conversations/{second}",
                                         headers=await bearer(hub, "ben@example.test"))).json()
    assert detail["assignee"]["name"] == "Ben Berger"
    await screenshot(wall, "wall_reassigned")


# Routing on, with a queue that escalates (and alerts) after one second of waiting and an SLA
# whose first response is due after two: a conversation nobody takes breaches both for real.
ESCALATING = {
    "queues": (QueueConfig("support", {"escalation": [{"after": 1, "alert": True}]}),
               QueueConfig("billing")),
    "routing": {"lease": 1, "stats_interval": 0.2,
                "sla": [{"name": "fast", "queues": ["support"], "first_response": 2, "warning_at": 0.5}]},
}


@pytest.mark.parametrize("hub_config", [ESCALATING], indirect=True)
async def test_a_conversation_nobody_takes_raises_escalation_and_sla_alerts(hub: Hub, new_page: NewPage) -> None:
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    page = await new_page()
    await log_in(page, hub, "sven@example.test", "/wall")
    await page.wait_for_selector("body[data-ready=wall]")
    assert await page.locator("#wall-alerts-empty").is_visible()

    # Nobody is available: the conversation waits, routing's escalation step comes due, then the SLA.
    sent = await send_inbound(hub.client, text="Dringend!", sender={"email": "c@example.test"})
    conversation_id = sent["conversation_id"]
    escalated = page.locator("#wall-alerts li.escalation-triggered", has_text=f"#{conversation_id}")
    breached = page.locator("#wall-alerts li.sla-breached", has_text=f"#{conversation_id}")
    await escalated.wait_for()
    await breached.wait_for()
    assert "support" in await escalated.inner_text() and "support" in await breached.inner_text()
    await screenshot(page, "wall_alert")

    async with hub.client.app[SERVICES].sessions() as session:  # what the alerts came from: routing's own events
        rows = (await session.scalars(select(EventRecord).where(
            EventRecord.conversation_id == conversation_id,
            EventRecord.type.in_([ev.ESCALATION_TRIGGERED, ev.SLA_BREACHED])))).all()
    assert {r.type for r in rows} == {ev.ESCALATION_TRIGGERED, ev.SLA_BREACHED}
    assert next(r for r in rows if r.type == ev.ESCALATION_TRIGGERED).data["alert"] is True

    dismiss = escalated.get_by_role("button")
    await dismiss.focus()
    await page.keyboard.press("Enter")
    await escalated.wait_for(state="detached")
    await expect(page.locator("#wall-alerts-title")).to_be_focused()
    await breached.get_by_role("button").click()
    await breached.wait_for(state="detached")
    assert await page.locator("#wall-alerts-empty").is_visible()


async def test_todays_charts(hub: Hub, new_page: NewPage) -> None:
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    services = hub.client.app[SERVICES]
    queue_id = services.queues["support"]
    now = utcnow()
    async with services.sessions() as session, session.begin():
        session.add_all(
            RoutingOutcome(queue_id=queue_id, kind="answered", occurred_at=now - timedelta(minutes=m), wait_seconds=5,
                           within_target=m % 3 != 0)
            for m in range(0, min(180, now.hour * 60 + now.minute), 7)
        )
    page = await new_page()
    await log_in(page, hub, "sven@example.test", "/wall")
    await page.wait_for_selector("body[data-ready=wall]")
    await page.select_option("#chart-queue", label="support")
    await page.locator("#chart-sl circle.dot").first.wait_for()
    assert await page.locator("#chart-volume rect.bar").count() >= 1
    await screenshot(page, "wall_charts")


async def test_the_german_wall_speaks_german_and_fits_a_phone(hub: Hub, new_page: NewPage) -> None:
    await hub.user("sven@example.test", "Sven Supervisor", role="supervisor", queues=())
    await send_inbound(hub.client, text="Hallo", sender={"email": "d@example.test", "name": "Greta"})
    page = await new_page(locale="de-DE", width=390, height=844)
    await log_in(page, hub, "sven@example.test", "/wall")
    await page.wait_for_selector("body[data-ready=wall]")
    assert await page.locator("#wall-queues-title").inner_text() == "Warteschlangen"
    assert await page.locator("#wall-queues th").nth(1).inner_text() == "Wartend"
    assert await page.locator(".mainnav a[aria-current=page]").inner_text() == await page.locator(
        ".mainnav a[href='/wall']").inner_text()
    assert await page.locator("#wall-waiting button.assign").first.inner_text() == "Zuweisen"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing sticks out sideways at phone width
    await screenshot(page, "wall_phone_de")


async def test_agents_are_sent_to_the_inbox(hub: Hub, new_page: NewPage) -> None:
    await hub.user("anna@example.test", "Anna Schmidt")
    page = await new_page()
    await log_in(page, hub, "anna@example.test")
    await page.goto(f"{hub.base}/wall")
    await page.wait_for_url(f"{hub.base}/inbox")
    await page.goto(f"{hub.base}/admin/users")
    await page.wait_for_url(f"{hub.base}/inbox")


async def bearer(hub: Hub, email: str) -> dict[str, str]:
    from hub.auth.accounts import create_token, user_id_by_email

    services = hub.client.app[SERVICES]
    _, token = await create_token(services, user_id=await user_id_by_email(services, email), name="t", actor_id=None)
    return {"Authorization": f"Bearer {token}"}
