"""``/healthz`` and the plain start page."""

from __future__ import annotations

import asyncio
import html

from aiohttp import web
from sqlalchemy import text

from hub import __version__
from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, SERVICES

routes = web.RouteTableDef()

HEALTH_TIMEOUT = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 when the database (and Redis, if configured) answer; 503 otherwise."""
    services = request.app[SERVICES]
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    ping = getattr(services.bus, "ping", None)
    if ping is not None:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """A plain page that says what is running, until the web UI lands."""
    services = request.app[SERVICES]
    channels = "".join(
        f"<li>{html.escape(a.name)} ({html.escape(a.type)})</li>" for a in request.app[ADAPTERS].values()
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hub</title></head>
<body>
<h1>hub {html.escape(__version__)}</h1>
<p>The contact-center hub is running on {html.escape(services.dialect)}.</p>
<ul>
<li><a href="/api/openapi.json">OpenAPI document of the REST API</a></li>
<li><a href="/healthz">Health check</a></li>
</ul>
<h2>Channels</h2><ul>{channels or "<li>none configured</li>"}</ul>
</body></html>"""
    return web.Response(text=body, content_type="text/html")
