"""The plain start page and the API overview page."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.pages import choose_language


async def test_start_page_names_the_channels_and_links_the_api(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/status")
    assert resp.status == 200
    html = await resp.text()
    assert "<code>web-form</code>" in html
    assert 'href="/api/openapi.json"' in html
    assert resp.headers["Content-Language"] == "en"


async def test_start_page_speaks_german_when_asked(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/status", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert resp.headers["Content-Language"] == "de"
    assert "Kanäle" in await resp.text()


async def test_api_overview_lists_the_channel_route(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/docs")
    assert resp.status == 200
    assert "/api/v1/channels/{name}/messages" in await resp.text()


async def test_static_css_is_served(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/static/hub.css")
    assert resp.status == 200


def test_language_choice_follows_quality_values() -> None:
    assert choose_language(None) == "en"
    assert choose_language("fr, de;q=0.8") == "de"
    assert choose_language("en;q=0.9, de;q=0.4") == "en"
    assert choose_language("de;q=abc") == "en"
