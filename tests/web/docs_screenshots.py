"""Take the screenshots of docs/ui.md from the demo company (not a test).

    .venv/bin/python -m tests.web.docs_screenshots [--out docs/img]

Seeds the demo into a temporary SQLite database, serves it with ``hub serve``, logs
in as the demo's first agent in headless Chromium and saves the inbox at 1280×800,
in German, and at phone width.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[2]
HUB = str(Path(sys.executable).with_name("hub"))
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the hub did not start")


async def shoot(base: str, email: str, password: str, out: Path, supervisor: tuple[str, str] | None) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        async def logged_in(locale: str, width: int, height: int, who: tuple[str, str]) -> Any:
            context = await browser.new_context(locale=locale, viewport={"width": width, "height": height})
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await page.fill("#login-email", who[0])
            await page.fill("#login-password", who[1])
            await page.click("#login-form button[type=submit]")
            await page.wait_for_selector("#live-status[data-state=live]")
            return page

        page = await logged_in("en-US", 1280, 800, (email, password))
        if await page.locator("#lang-switch").input_value() != "en":
            async with page.expect_navigation():
                await page.select_option("#lang-switch", "en")
            await page.wait_for_selector("#live-status[data-state=live]")
        await page.click("button.view[data-view=queues]")
        await page.locator("#conversation-list li").first.wait_for()
        await page.locator("#conversation-list li a").first.click()
        await page.locator("#contact-pane h2").wait_for()
        await page.locator(".composer textarea").fill("Thanks for your patience — ")
        await page.wait_for_timeout(500)
        await page.screenshot(path=str(out / "inbox.png"))
        await page.keyboard.press("Escape")
        await page.keyboard.press("?")
        await page.wait_for_timeout(200)
        await page.screenshot(path=str(out / "inbox_keyboard_help.png"))
        await page.keyboard.press("Escape")
        await page.click("#save-view")
        await page.keyboard.type("Open portal questions")
        await page.screenshot(path=str(out / "inbox_save_view.png"))
        await page.keyboard.press("Escape")

        german = await logged_in("de-DE", 1280, 800, (email, password))
        async with german.expect_navigation():
            await german.select_option("#lang-switch", "de")
        await german.wait_for_selector("#live-status[data-state=live]")
        await german.click("button.view[data-view=queues]")
        await german.locator("#conversation-list li a").nth(1).click()
        await german.locator("#contact-pane h2").wait_for()
        await german.wait_for_timeout(500)
        await german.screenshot(path=str(out / "inbox_de.png"))

        phone = await logged_in("de-DE", 390, 844, (email, password))
        await phone.click("button.view[data-view=queues]")
        await phone.locator("#conversation-list li").first.wait_for()
        await phone.screenshot(path=str(out / "inbox_phone_list.png"))
        await phone.locator("#conversation-list li a").first.click()
        await phone.locator(".thread article").first.wait_for()
        await phone.screenshot(path=str(out / "inbox_phone_conversation.png"))
        await browser.close()


@contextmanager
def demo_hub() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The demo company seeded into a temporary SQLite database and served by ``hub serve``:
    its base URL and the demo logins."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "HUB_DATA_DIR": tmp,
            "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/hub.db",
            "HUB_PUBLIC_URL": base,
            "WEBFORM_TOKEN": "demo-web-form-token",
            "SHOP_TOKEN": "demo-shop-token",
            "PORTAL_TOKEN": "demo-portal-token",
        }
        subprocess.run([HUB, "migrate"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        subprocess.run([HUB, "demo"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        logins = json.loads((Path(tmp) / "demo-logins.json").read_text())
        server = subprocess.Popen([HUB, "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(base)
            yield base, logins
        finally:
            server.terminate()
            server.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with demo_hub() as (base, logins):
        agent = next(x for x in logins if x["role"] == "agent")
        boss = next((x for x in logins if x["role"] == "supervisor"), None)
        asyncio.run(shoot(base, agent["email"], agent["password"], args.out,
                          (boss["email"], boss["password"]) if boss else None))
    sys.stdout.write(f"screenshots in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
