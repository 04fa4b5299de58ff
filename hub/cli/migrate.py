"""``hub migrate``: upgrade the database to the newest schema."""

from __future__ import annotations

import argparse
import asyncio

from hub.config import load_settings
from hub.db.migrate import upgrade


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("migrate", help="upgrade the database to the newest schema")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    asyncio.run(upgrade(settings.database_url, args.revision))
    print(f"database is at revision {args.revision}")  # noqa: T201
    return 0
