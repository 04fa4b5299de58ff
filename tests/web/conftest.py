"""A hub served on loopback for a real browser (Debian's Chromium through Playwright).

The API channel ``web-form`` replies to a local callback receiver, so a reply in the
UI is really sent. Every page records console errors; a CSP violation or an uncaught
script error fails the test. Screenshots go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.api.keys import SERVICES
from hub.auth import accounts
from tests.conftest import make_settings
from tests.inbox.callback_receiver import CallbackReceiver, running_receiver
from tests.inbox.outbound_env import channels
from tests.services import service_missing

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct horse battery staple"
WAIT_MS = 10_000


@dataclass
class Hub:
    client: TestClient[Any, Any]
    receiver: CallbackReceiver
    base: str
    problems: list[str] = field(default_factory=list)

    async def user(self, email: str, name: str, role: str = "agent", queues: tuple[str, ...] = ("support",),
                   locale: str | None = None) -> int:
        return await accounts.create_user(
            self.client.app[SERVICES], email=email, name=name, role=role, password=PASSWORD,
            queues=list(queues), skills={}, actor_id=None, locale=locale,
        )


@pytest.fixture
def hub_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings a test changes (``queues``, ``routing``): parametrize it indirectly; none by default."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, hub_config: dict[str, Any]) -> AsyncIterator[Hub]:
    async with running_receiver() as receiver:
        settings = make_settings(database_url, tmp_path / "data", channels=channels(receiver.url), **hub_config)
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            yield Hub(client, receiver, str(client.make_url("")).rstrip("/"))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if shutil.which(CHROMIUM) is None:
        service_missing("Chromium", f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


NewPage = Callable[..., Awaitable[Any]]


@pytest.fixture
async def new_page(browser: Any, hub: Hub) -> AsyncIterator[NewPage]:
    """Pages in their own browser contexts (separate cookies), watched for script and CSP errors."""
    contexts: list[Any] = []

    async def make(locale: str = "en-US", width: int = 1280, height: int = 800, permissions: tuple[str, ...] = ()) -> Any:
        context = await browser.new_context(locale=locale, viewport={"width": width, "height": height},
                                            permissions=list(permissions))
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)

        def console(message: Any) -> None:
            text = message.text
            if message.type == "error" and "Failed to load resource" not in text:
                hub.problems.append(text)

        page.on("console", console)
        page.on("pageerror", lambda error: hub.problems.append(f"uncaught: {error}"))
        return page

    yield make
    for context in contexts:
        await context.close()
    assert hub.problems == [], hub.problems


async def log_in(page: Any, hub: Hub, email: str, path: str = "/inbox") -> None:
    await page.goto(f"{hub.base}{path}")
    await page.fill("#login-email", email)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{hub.base}{path}")
    await page.wait_for_selector("#live-status[data-state=live]")


async def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
