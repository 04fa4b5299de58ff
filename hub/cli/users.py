"""``hub user create``, ``hub user set-password`` and ``hub token create``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hub.auth import accounts
from hub.bootstrap import build_services, sync_config
from hub.bus import InProcessBus
from hub.config import load_settings
from hub.errors import ValidationFailed
from hub.services import Services

T = TypeVar("T")
ROLES = ("agent", "supervisor", "admin")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``user`` and ``token`` commands."""
    user = sub.add_parser("user", help="manage staff users").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.add_argument("--queues", default="", help="comma-separated queue names: q1,q2")
    create.add_argument("--skills", default="", help="comma-separated skills with levels: s1:3,s2:1")
    create.set_defaults(func=create_user)
    password = user.add_parser("set-password", help="set a user's password, read from stdin")
    password.add_argument("--email", required=True)
    password.set_defaults(func=set_password)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    new = token.add_parser("create", help="print a new API token for a user (nothing else)")
    new.add_argument("--email", required=True)
    new.add_argument("--name", default="cli", help="a label for the token (default: cli)")
    new.set_defaults(func=create_token)


def create_user(args: argparse.Namespace) -> int:
    """Create the user; say how to log in."""
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    skills = parse_skills(args.skills)
    password = read_password() if args.password_stdin else None

    async def action(services: Services) -> int:
        return await accounts.create_user(
            services,
            email=args.email,
            name=args.name,
            role=args.role,
            password=password,
            queues=queues,
            skills=skills,
            actor_id=None,
        )

    user_id = _run(args, action)
    print(f"created {args.role} {args.email.strip().lower()} (id {user_id})")  # noqa: T201
    if password is None:
        print(  # noqa: T201
            "this user has no password and cannot log in until one is set: "
            f"hub user set-password --email {args.email.strip().lower()} < password-file"
        )
    return 0


def set_password(args: argparse.Namespace) -> int:
    """Set a password read from stdin; ends the user's browser sessions."""
    password = read_password()

    async def action(services: Services) -> None:
        user_id = await accounts.user_id_by_email(services, args.email)
        await accounts.set_password(services, user_id=user_id, password=password, actor_id=None)

    _run(args, action)
    print("password set")  # noqa: T201
    return 0


def create_token(args: argparse.Namespace) -> int:
    """Print only the new token, so that scripts can capture it."""

    async def action(services: Services) -> str:
        user_id = await accounts.user_id_by_email(services, args.email)
        _token_id, plain = await accounts.create_token(services, user_id=user_id, name=args.name, actor_id=None)
        return plain

    print(_run(args, action))  # noqa: T201
    return 0


def parse_skills(text: str) -> dict[str, int]:
    """``"s1:3,s2"`` -> ``{"s1": 3, "s2": 1}``; ValidationFailed on anything else."""
    skills: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, colon, level = item.partition(":")
        if not name.strip() or (colon and not level.strip().isdigit()):
            raise ValidationFailed(f"--skills: {item!r} is not name:level (level a whole number)")
        skills[name.strip()] = int(level) if colon else 1
    return skills


def read_password() -> str:
    """The password on stdin, without the line ending a pipe or heredoc adds."""
    password = sys.stdin.read().rstrip("\r\n")
    if not password:
        raise ValidationFailed("no password on stdin")
    return password


def _run(args: argparse.Namespace, action: Callable[[Services], Awaitable[T]]) -> T:
    settings = load_settings(args.config)

    async def main() -> T:
        services = build_services(settings, bus=InProcessBus())
        try:
            await sync_config(services)
            return await action(services)
        finally:
            await services.engine.dispose()

    return asyncio.run(main())
