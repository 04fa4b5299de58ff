"""``hub erlang``: Erlang C (or, with ``--patience``, Erlang A) staffing from the command line."""

from __future__ import annotations

import argparse
import json
import math

from hub.routing.erlang import erlang_a_staffing, erlang_c_staffing, required_agents, traffic


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``erlang`` command."""
    cmd = sub.add_parser(
        "erlang",
        help="agents needed for a service level (Erlang C; Erlang A with --patience)",
        description="Agents needed so that a share of contacts is answered within a target time.",
    )
    cmd.add_argument("--calls", type=float, required=True, help="contacts arriving per interval")
    cmd.add_argument("--interval", type=float, required=True, help="interval length in seconds (e.g. 1800)")
    cmd.add_argument("--aht", type=float, required=True, help="average handle time in seconds")
    cmd.add_argument("--target-sl", type=float, required=True, help="share to answer within the target, e.g. 0.8")
    cmd.add_argument("--target-seconds", type=float, required=True, help="the target answer time, e.g. 20")
    cmd.add_argument("--max-occupancy", type=float, default=1.0, help="highest share of agent time busy (default 1)")
    cmd.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time not on queue (default 0)")
    cmd.add_argument("--patience", type=float, help="mean seconds before a waiting caller hangs up (Erlang A)")
    cmd.add_argument("--agents", type=int, help="also show the figures for this many agents")
    cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the staffing answer; bad numbers end with a message (exit status 2)."""
    figures, staff = required_agents(
        calls=args.calls, interval=args.interval, aht=args.aht, target_sl=args.target_sl,
        target_seconds=args.target_seconds, max_occupancy=args.max_occupancy, shrinkage=args.shrinkage,
        patience=args.patience,
    )
    model = "erlang_a" if args.patience is not None else "erlang_c"
    result: dict[str, object] = {
        "model": model,
        "input": {
            "calls": args.calls, "interval_seconds": args.interval, "aht_seconds": args.aht,
            "target_service_level": args.target_sl, "target_seconds": args.target_seconds,
            "max_occupancy": args.max_occupancy, "shrinkage": args.shrinkage, "patience_seconds": args.patience,
        },
        "traffic_erlangs": round(traffic(args.calls, args.interval, args.aht), 6),
        "required": figures.as_dict(),
        "staff_with_shrinkage": staff,
    }
    if args.agents is not None:
        if args.agents < 1:
            print("hub: --agents must be at least 1")  # noqa: T201
            return 2
        a = figures.traffic
        chosen = (
            erlang_a_staffing(args.agents, a, args.aht, args.patience, args.target_seconds)
            if args.patience is not None
            else erlang_c_staffing(args.agents, a, args.aht, args.target_seconds)
        )
        result["with_agents"] = chosen.as_dict()
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False, default=_finite))  # noqa: T201
        return 0
    print(f"model             {model.replace('_', ' ').title()}")  # noqa: T201
    print(f"traffic           {result['traffic_erlangs']} Erlangs")  # noqa: T201
    _print_figures("required", figures.as_dict())
    print(f"with shrinkage    {staff} agents to schedule ({args.shrinkage:.0%} shrinkage)")  # noqa: T201
    if "with_agents" in result:
        _print_figures(f"with {args.agents} agents", result["with_agents"])  # type: ignore[arg-type]
    return 0


def _print_figures(title: str, figures: dict[str, float | int]) -> None:
    asa = figures["asa_seconds"]
    asa_text = "no answer (overloaded)" if isinstance(asa, float) and math.isinf(asa) else f"{asa:.1f} s"
    lines = [
        f"{title}",
        f"  agents          {figures['agents']}",
        f"  service level   {figures['service_level']:.1%}",
        f"  P(wait)         {figures['wait_probability']:.1%}",
        f"  ASA             {asa_text}",
        f"  occupancy       {figures['occupancy']:.1%}",
    ]
    if figures.get("abandon_probability"):
        lines.append(f"  abandoned       {figures['abandon_probability']:.1%}")
    print("\n".join(lines))  # noqa: T201


def _finite(value: object) -> object:
    return None
