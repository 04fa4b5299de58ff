"""The ``hub`` command line: each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from hub.cli import channels, crm, demo, email, erlang, migrate, serve, simulate, users
from hub.errors import HubError

# Each module adds its sub-parser and sets ``func`` on it.
COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    serve.register,
    migrate.register,
    users.register,
    demo.register,
    crm.register,
    channels.register,
    email.register,
    erlang.register,
    simulate.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Omnichannel contact-center hub")
    parser.add_argument("--config", help="config file (default: $HUB_CONFIG or config/hub.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hub`` and ``python -m hub``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except HubError as exc:
        print(f"hub: {exc.detail}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130
    return status
