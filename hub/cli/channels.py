"""``hub channels register-webhooks``: tell providers where to send their webhooks.

Only providers that are told by API (Telegram's ``setWebhook``) take part; the
others (Slack, Meta) are set up in their own consoles — see docs/channels/.
"""

from __future__ import annotations

import argparse
import asyncio

from hub.channels.base import AdapterContext
from hub.channels.registry import build_adapter
from hub.config import Settings, load_settings
from hub.errors import ConfigError
from hub.messages import InboundMessage, StatusEvent
from hub.net import DestinationPolicy, create_http_session


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("channels", help="channel set-up tasks")
    tasks = parser.add_subparsers(dest="task", required=True)
    hooks = tasks.add_parser("register-webhooks", help="point the providers' webhooks at this hub's public_url")
    hooks.add_argument("--channel", help="only this channel (default: every channel that registers by API)")
    hooks.set_defaults(func=run_register)


def run_register(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    for line in asyncio.run(register_webhooks(settings, args.channel)):
        print(line)  # noqa: T201
    return 0


async def register_webhooks(settings: Settings, only: str | None = None) -> list[str]:
    """Register every (or the named) channel's webhook; one line of outcome per channel."""
    chosen = [c for c in settings.channels if only is None or c.name == only]
    if only is not None and not chosen:
        raise ConfigError(f"no channel named {only!r} in the configuration")

    async def no_ingest(message: InboundMessage) -> object:
        raise AssertionError("registering webhooks ingests nothing")

    async def no_status(event: StatusEvent) -> None:
        raise AssertionError("registering webhooks reports nothing")

    lines: list[str] = []
    async with create_http_session(DestinationPolicy(settings.outbound_allow_networks)) as http:
        context = AdapterContext(settings=settings, http=http, ingest=no_ingest, report_status=no_status)
        for config in chosen:
            url = await build_adapter(config, context).register_webhook()
            if url is not None:
                lines.append(f"{config.name}: webhook set to {url}")
            elif only is not None:
                lines.append(f"{config.name}: a {config.type} channel is set up in the provider's console")
    return lines
