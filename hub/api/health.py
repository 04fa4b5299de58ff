"""``/healthz``: is this process able to serve?"""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from hub.api.jsonio import json_response
from hub.api.keys import SERVICES

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
