"""``hub email backfill``: import a window of a mailbox again, safely, from the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from hub.bootstrap import build_services, sync_config
from hub.channels.email import EmailChannel
from hub.channels.email.adapter import BackfillReport
from hub.config import Settings, load_settings
from hub.errors import ConfigError
from hub.inbox.adapter_context import adapter_context
from hub.inbox.service import Inbox
from hub.net import DestinationPolicy, create_http_session


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("email", help="email channel maintenance")
    commands = parser.add_subparsers(dest="email_command", required=True)
    backfill = commands.add_parser(
        "backfill",
        help="import every mail of a date window again; mail the hub holds already is skipped",
    )
    backfill.add_argument("--channel", required=True, help="the email channel's name")
    backfill.add_argument("--since", required=True, type=_day, help="first day, YYYY-MM-DD (server's arrival date)")
    backfill.add_argument("--until", type=_day, help="day after the last one, YYYY-MM-DD (default: no end)")
    backfill.set_defaults(func=run_backfill)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {value!r}") from None


def run_backfill(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if args.until is not None and args.until <= args.since:
        raise ConfigError("--until must lie after --since")
    report = asyncio.run(backfill(settings, args.channel, args.since, args.until))
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.counts.items())) or "nothing to do"
    print(f"channel {args.channel}: {report.considered} mail(s) in the window: {counts}")  # noqa: T201
    return 0


async def backfill(settings: Settings, channel: str, since: date, until: date | None) -> BackfillReport:
    """Run a backfill with this process's own inbox (alongside a running hub is fine)."""
    config = next((c for c in settings.channels if c.name == channel), None)
    if config is None:
        raise ConfigError(f"no channel named {channel!r} in the configuration")
    if config.type != EmailChannel.type:
        raise ConfigError(f"channel {channel!r} is of type {config.type!r}, not email")
    services = build_services(settings)
    try:
        await sync_config(services)
        await services.bus.start()
        inbox = Inbox(services)
        await inbox.start()
        try:
            async with create_http_session(DestinationPolicy(settings.outbound_allow_networks)) as http:
                adapter = EmailChannel(config, adapter_context(services, http, inbox))
                return await adapter.backfill(since, until)
        finally:
            await inbox.aclose()
            await services.bus.aclose()
    finally:
        await services.engine.dispose()
