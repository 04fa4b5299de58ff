"""The baseline: a bare aiohttp handler that reads the JSON body and answers 202.

Served the way ``hub serve`` serves (uvloop, one process, no access log), so the
ratio hub / bare says what the hub's work costs on top of aiohttp itself.
"""

from __future__ import annotations

import argparse
import asyncio

import msgspec
import uvloop
from aiohttp import web

_ACCEPTED = msgspec.json.encode({"message_id": 1, "conversation_id": 1, "duplicate": False})


async def accept(request: web.Request) -> web.Response:
    """Read and decode the JSON body, answer 202."""
    msgspec.json.decode(await request.read())
    return web.Response(body=_ACCEPTED, status=202, content_type="application/json")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def serve(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/v1/channels/{name}/messages", accept)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    try:
        await asyncio.Event().wait()  # until SIGTERM ends the process
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
