"""Take the supervisor wall and admin screenshots of docs/ui.md from the demo company (not a test).

    .venv/bin/python -m tests.web.wall_screenshots [--out docs/img]

Seeds the demo into a temporary SQLite database, serves it with ``hub serve`` (routing
on, so the live statistics and staffing advice are real), logs in as the demo's
supervisor and admin in headless Chromium, and saves the wall at 1280×800, in
German, at phone width, and the canned responses and channels admin pages.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from tests.web.docs_screenshots import CHROMIUM, ROOT, demo_hub


async def shoot(base: str, supervisor: dict[str, str], admin: dict[str, str], out: Path) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        async def logged_in(who: dict[str, str], lang: str, width: int, height: int, path: str) -> Any:
            context = await browser.new_context(locale="de-DE" if lang == "de" else "en-US",
                                                viewport={"width": width, "height": height})
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await page.fill("#login-email", who["email"])
            await page.fill("#login-password", who["password"])
            await page.click("#login-form button[type=submit]")
            await page.wait_for_selector("#live-status[data-state=live]")
            if await page.locator("#lang-switch").input_value() != lang:
                async with page.expect_navigation():
                    await page.select_option("#lang-switch", lang)
            await page.goto(f"{base}{path}")
            await page.wait_for_selector("body[data-ready]")
            await page.wait_for_timeout(1500)  # let the first queue.stats arrive and the clocks tick
            return page

        wall = await logged_in(supervisor, "en", 1280, 800, "/wall")
        await wall.screenshot(path=str(out / "wall.png"))
        await wall.screenshot(path=str(out / "wall_full.png"), full_page=True)
        german = await logged_in(supervisor, "de", 1280, 800, "/wall")
        await german.screenshot(path=str(out / "wall_de.png"))
        phone = await logged_in(supervisor, "de", 390, 844, "/wall")
        await phone.screenshot(path=str(out / "wall_phone.png"))
        canned = await logged_in(admin, "en", 1280, 800, "/admin/canned")
        await canned.screenshot(path=str(out / "admin_canned.png"))
        channels = await logged_in(admin, "en", 1280, 800, "/admin/channels")
        await channels.screenshot(path=str(out / "admin_channels.png"))
        await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with demo_hub() as (base, logins):
        supervisor = next(x for x in logins if x["role"] == "supervisor")
        admin = next(x for x in logins if x["role"] == "admin")
        asyncio.run(shoot(base, supervisor, admin, args.out))
    sys.stdout.write(f"screenshots in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
