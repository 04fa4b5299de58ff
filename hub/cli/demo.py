"""``hub demo [--reset]``: seed a demo company and say how to log in."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from hub.config import Settings, load_settings
from hub.demo import DemoResult, run_demo


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser(
        "demo", help="seed a demo company: queues, agents, customers, conversations (skipped if present)"
    )
    parser.add_argument("--reset", action="store_true", help="wipe every table first, then seed the demo again")
    parser.add_argument(
        "--force", action="store_true", help="with --reset: wipe even a database that hub demo did not create"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Seed (or find) the demo and print the logins."""
    settings = load_settings(args.config)
    result = asyncio.run(run_demo(settings, reset=args.reset, force=args.force))
    report(result, settings, sys.stdout)
    return 0


def report(result: DemoResult, settings: Settings, out: TextIO) -> None:
    """The summary an operator reads after ``hub demo``."""
    lines: list[str] = []
    if result.note is not None:
        out.write(f"{result.note} (hub demo --reset --force wipes it first)\n")
        return
    if result.created:
        lines.append(
            f"demo company ready: {len(result.logins)} users, {result.customers} customers, "
            f"{result.conversations} conversations in queues {', '.join(q.name for q in settings.queues)}"
        )
    else:
        lines.append("the demo company is already there (hub demo --reset seeds it again)")
    if result.logins:
        lines.append(f"log in at {settings.public_url} as:")
        width = max(len(login.email) for login in result.logins)
        for login in result.logins:
            lines.append(f"  {login.role:<10}  {login.email:<{width}}  password {login.password}   ({login.name})")
        lines.append(f"(saved in {result.logins_file}; demo logins only, never use them for real data)")
    else:
        lines.append(f"the logins were printed when the demo was seeded ({result.logins_file} is gone)")
    api = next((c for c in settings.channels if c.type == "api"), None)
    if api is not None:
        token = f"${api.options['token_env']}" if "token_env" in api.options else "<channel token>"
        lines.append("push a customer message into the API channel:")
        lines.append(
            f"  curl -X POST {settings.public_url}/api/v1/channels/{api.name}/messages "
            f"-H \"Authorization: Bearer {token}\" -H 'Content-Type: application/json' "
            "-d '{\"id\": \"try-1\", \"sender\": {\"email\": \"you@example.com\"}, \"text\": \"Hallo!\"}'"
        )
    admin = next((login for login in result.logins if login.role == "admin"), None)
    if admin is not None:
        lines.append(f"an API token for the REST API: hub token create --email {admin.email}")
    out.write("\n".join(lines) + "\n")
    out.flush()
