"""The widget in headless Chromium, on a shop page served from another origin than the hub.

A visitor writes, an agent answers over the API, the visitor sees it live, reloads the
page and keeps the history; the shop's hostile CSS does not reach the widget.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.config import Settings
from tests.channels.webchat.conftest import chat_channel, chat_settings
from tests.factories import create_user, services_of
from tests.services import service_missing

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WAIT_MS = 10_000

SHOP_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Shop</title>
<style>
  * {{ color: rgb(255, 0, 0) !important; font-family: serif !important; }}
  button {{ background: rgb(0, 255, 0) !important; display: none !important; }}
  div {{ border: 5px solid rgb(0, 0, 255) !important; }}
</style></head>
<body><h1>Unser Shop</h1>
{settings}
<script src="{hub}/widget/widget.js" data-channel="site-chat" async></script>
</body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def shop_port() -> int:
    return free_port()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, shop_port: int) -> Settings:
    # "localhost" and 127.0.0.1 are different origins (and so are two ports).
    return chat_settings(database_url, tmp_path / "data", chat_channel(allowed_origins=[f"http://localhost:{shop_port}"]))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
async def shop(client: TestClient[Any, Any], shop_port: int) -> AsyncIterator[str]:
    hub = str(client.make_url("")).rstrip("/")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=SHOP_PAGE.format(hub=hub, settings=""), content_type="text/html")

    async def english(request: web.Request) -> web.Response:
        settings = '<script>window.HubChat = {lang: "en"};</script>'
        return web.Response(text=SHOP_PAGE.format(hub=hub, settings=settings), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/en", english)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", shop_port).start()
    yield f"http://localhost:{shop_port}/"
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if shutil.which(CHROMIUM) is None:
        service_missing("Chromium", f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


async def wait_for_inbound(client: TestClient[Any, Any], agent_headers: dict[str, str]) -> int:
    for _ in range(100):
        resp = await client.get("/api/v1/conversations?channel=site-chat", headers=agent_headers)
        items = (await resp.json())["items"]
        if items:
            return int(items[0]["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("the visitor's message never arrived")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_visitor_chats_with_an_agent_and_keeps_the_history_after_a_reload(
    client: TestClient[Any, Any], shop: str, browser: Any
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    agent = await create_user(services_of(client), role="agent", queues=["support"], name="Anna Schmidt")
    page = await browser.new_page(locale="de-DE")
    await page.goto(shop)
    launcher = page.locator("#hub-chat .launcher")
    await launcher.wait_for(timeout=WAIT_MS)
    # The shop hides every button and paints everything red; the widget's launcher is untouched.
    assert await launcher.is_visible()
    assert await launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(31, 95, 191)"

    await launcher.click()
    await page.locator("#hub-chat .prechat input[name=name]").fill("Erika")
    await page.locator("#hub-chat .prechat button[type=submit]").click()
    composer = page.locator("#hub-chat .composer textarea")
    await composer.fill("Hallo, wo ist mein Paket?")
    await composer.press("Enter")
    await page.locator("#hub-chat li.mine[data-id]").wait_for(timeout=WAIT_MS)

    conversation_id = await wait_for_inbound(client, agent.headers)
    resp = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Es kommt morgen."}, headers=agent.headers
    )
    assert resp.status == 201
    reply = page.locator("#hub-chat li.theirs p")
    await reply.wait_for(timeout=WAIT_MS)
    assert await reply.inner_text() == "Es kommt morgen."
    assert await page.locator("#hub-chat li.theirs .author").inner_text() == "Anna Schmidt"
    mine = page.locator("#hub-chat li.mine p")
    assert await mine.evaluate("p => getComputedStyle(p).color") == "rgb(255, 255, 255)"
    await page.screenshot(path=str(ARTIFACTS / "webchat-live.png"))

    await page.reload()
    await page.locator("#hub-chat .launcher").click()
    await page.locator("#hub-chat li.theirs p").wait_for(timeout=WAIT_MS)
    texts = await page.locator("#hub-chat .messages li p").all_inner_texts()
    assert texts == ["Hallo, wo ist mein Paket?", "Es kommt morgen."]
    await page.screenshot(path=str(ARTIFACTS / "webchat-after-reload.png"))
    await page.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_typing_read_ticks_a_file_and_the_rating_in_the_browser(
    client: TestClient[Any, Any], shop: str, browser: Any, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    page = await browser.new_page(locale="de-DE")  # the page asks for English: it wins
    await page.goto(shop + "en")
    await page.locator("#hub-chat .launcher").click()
    assert await page.locator("#hub-chat .composer .send").inner_text() == "Send"
    await page.locator("#hub-chat .prechat button[type=submit]").click()
    composer = page.locator("#hub-chat .composer textarea")
    await composer.fill("Can I send you the invoice?")
    await composer.press("Enter")
    mine = page.locator("#hub-chat li.mine[data-id]")
    await mine.wait_for(timeout=WAIT_MS)
    conversation_id = await wait_for_inbound(client, agent.headers)
    message_id = int(await mine.get_attribute("data-id") or 0)
    assert await page.locator("#hub-chat li.mine .mark").inner_text() == "✓"

    base = f"/api/v1/conversations/{conversation_id}"
    await client.put(f"{base}/typing", json={"typing": True}, headers=agent.headers)
    typing = page.locator("#hub-chat .typing")
    await typing.wait_for(state="visible", timeout=WAIT_MS)
    assert "is typing" in await typing.inner_text()
    await client.post(f"{base}/read", json={"up_to_message_id": message_id}, headers=agent.headers)
    await page.locator("#hub-chat li.mine .mark", has_text="✓✓").wait_for(timeout=WAIT_MS)

    invoice = tmp_path / "Rechnung 4711.pdf"
    invoice.write_bytes(b"%PDF-1.4 test invoice")
    await page.locator("#hub-chat .composer input[type=file]").set_input_files(str(invoice))
    await page.locator("#hub-chat li.mine[data-id]", has_text="Rechnung 4711.pdf").wait_for(timeout=WAIT_MS)
    detail = await (await client.get(base, headers=agent.headers)).json()
    assert [a["filename"] for m in detail["messages"] for a in m["attachments"]] == ["Rechnung 4711.pdf"]

    await client.put(f"{base}/status", json={"status": "resolved"}, headers=agent.headers)
    stars = page.locator("#hub-chat .rating .star")
    await stars.first.wait_for(timeout=WAIT_MS)
    await stars.nth(3).click()
    await page.locator("#hub-chat .rating textarea").fill("Quick and friendly")
    await page.screenshot(path=str(ARTIFACTS / "webchat-rating.png"))
    await page.locator("#hub-chat .rating .primary").click()
    await page.locator("#hub-chat .rating p", has_text="Thank you").wait_for(timeout=WAIT_MS)
    rating = await (await client.get(f"{base}/rating", headers=agent.headers)).json()
    assert (rating["score"], rating["comment"]) == (4, "Quick and friendly")
    await page.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_demo_page_on_the_hubs_own_origin_works(database_url: str, tmp_path: Path, browser: Any) -> None:
    # Same-origin GETs carry no Origin header; the hub's public origin must be allowed.
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    settings = chat_settings(database_url, tmp_path / "data", chat_channel(allowed_origins=[hub]))
    settings = dataclasses.replace(settings, public_url=hub)
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=port)):
        page = await browser.new_page(locale="en-US")
        await page.goto(f"{hub}/widget/demo.html")
        await page.locator("#hub-chat .launcher").click()
        await page.locator("#hub-chat .prechat button[type=submit]").click()
        await page.locator("#hub-chat .composer textarea").fill("Hello from the demo")
        await page.locator("#hub-chat .composer textarea").press("Enter")
        await page.locator("#hub-chat li.mine[data-id]").wait_for(timeout=WAIT_MS)
        await page.close()
