"""The problem middleware: what each kind of failure answers and what it logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.api.problems import problem_middleware


def app_raising(exc: BaseException) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/x", handler)
    return app


async def test_a_client_that_went_away_is_no_error_of_the_hub(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hub.api.problems")
    client: TestClient[Any, Any]
    async with TestClient(TestServer(app_raising(ConnectionResetError("Connection lost")))) as client:
        resp = await client.post("/x", data=b"{}")
        assert resp.status == 400 and resp.content_type == "application/problem+json"
    assert [r.levelno for r in caplog.records if r.name == "hub.api.problems"] == [logging.DEBUG]


async def test_an_unexpected_error_is_logged_and_answered_500(caplog: pytest.LogCaptureFixture) -> None:
    client: TestClient[Any, Any]
    async with TestClient(TestServer(app_raising(RuntimeError("boom")))) as client:
        resp = await client.post("/x", data=b"{}")
        body = await resp.json()
        assert (resp.status, body["title"]) == (500, "Internal error") and "boom" not in body["detail"]
    assert any(r.levelno == logging.ERROR and r.name == "hub.api.problems" for r in caplog.records)
