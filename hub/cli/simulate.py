"""``hub simulate``: the real routing engine in simulated time, beside the Erlang prediction."""

from __future__ import annotations

import argparse
import json
import math
import time

from hub.errors import ValidationFailed
from hub.routing.erlang import erlang_a_staffing, erlang_c_staffing
from hub.routing.model import Strategy
from hub.routing.simulate import Scenario, simulate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` command."""
    cmd = sub.add_parser(
        "simulate",
        help="simulate a queue through the real routing engine and compare with Erlang",
        description="Poisson arrivals, exponential handle times (and patience) through hub's routing engine.",
    )
    cmd.add_argument("--agents", type=int, required=True, help="agents working the queue")
    cmd.add_argument("--calls", type=float, required=True, help="contacts arriving per interval")
    cmd.add_argument("--interval", type=float, default=3600.0, help="interval of --calls in seconds (default 3600)")
    cmd.add_argument("--aht", type=float, required=True, help="average handle time in seconds")
    cmd.add_argument("--target-seconds", type=float, default=20.0, help="service-level target time (default 20)")
    cmd.add_argument("--hours", type=float, default=24.0, help="simulated hours of arrivals (default 24)")
    cmd.add_argument("--conversations", type=int, help="stop after this many arrivals")
    cmd.add_argument("--patience", type=float, help="mean seconds before a waiting customer hangs up")
    cmd.add_argument("--ring-seconds", type=float, default=0.0, help="how long each offer rings before it is taken")
    cmd.add_argument("--warmup-hours", type=float, default=1.0, help="arrivals in the first hours are not counted")
    cmd.add_argument("--strategy", choices=[s.value for s in Strategy], default="round_robin")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.agents < 1 or args.calls <= 0 or args.interval <= 0 or args.aht <= 0 or args.hours <= 0:
        raise ValidationFailed("--agents, --calls, --interval, --aht and --hours must be positive")
    if args.patience is not None and args.patience <= 0:
        raise ValidationFailed("--patience must be positive")
    warmup = min(args.warmup_hours, args.hours / 2) * 3600
    scenario = Scenario(
        agents=args.agents, arrivals_per_second=args.calls / args.interval, aht=args.aht,
        target_seconds=args.target_seconds, duration=args.hours * 3600, max_conversations=args.conversations,
        patience=args.patience, ring_seconds=args.ring_seconds, warmup=warmup,
        strategy=Strategy(args.strategy), seed=args.seed,
    )
    started = time.perf_counter()
    result = simulate(scenario)
    elapsed = time.perf_counter() - started
    a = scenario.arrivals_per_second * args.aht
    if args.patience is None:
        model = "erlang_c"
        prediction = erlang_c_staffing(args.agents, a, args.aht, args.target_seconds)
        predicted_abandon = 0.0
        predicted_asa = prediction.asa
    else:
        model = "erlang_a"
        prediction = erlang_a_staffing(args.agents, a, args.aht, args.patience, args.target_seconds)
        predicted_abandon = prediction.abandon_probability
        predicted_asa = prediction.asa
    simulated = {
        "service_level": result.service_level, "asa_seconds": result.asa,
        "mean_wait_all_seconds": result.mean_wait_all, "abandonment": result.abandonment,
        "occupancy": result.occupancy,
    }
    predicted = {
        "service_level": prediction.service_level,
        "asa_seconds": predicted_asa if math.isfinite(predicted_asa) else None,
        "abandonment": predicted_abandon, "occupancy": prediction.occupancy,
    }
    report = {
        "model": model, "traffic_erlangs": a, "arrivals": result.arrivals, "answered": result.answered,
        "abandoned": result.abandoned, "decisions": result.decisions, "run_seconds": round(elapsed, 3),
        "simulated": simulated, "predicted": predicted,
    }
    if args.json:
        print(json.dumps(report, indent=2))  # noqa: T201
        return 0
    print(f"simulated {result.arrivals} counted arrivals ({result.decisions} routing decisions) in {elapsed:.2f} s")  # noqa: T201
    print(f"traffic {a:.2f} Erlangs on {args.agents} agents; prediction: {model.replace('_', ' ').title()}")  # noqa: T201
    print(f"{'':22}{'simulated':>12}{'predicted':>12}")  # noqa: T201
    print(f"{'service level':22}{result.service_level:>12.1%}{prediction.service_level:>12.1%}")  # noqa: T201
    print(f"{'ASA (answered) s':22}{result.asa:>12.1f}{_num(predicted_asa) if model == 'erlang_c' else '':>12}")  # noqa: T201
    print(f"{'mean wait (all) s':22}{result.mean_wait_all:>12.1f}{_num(predicted_asa) if model == 'erlang_a' else '':>12}")  # noqa: T201
    print(f"{'abandoned':22}{result.abandonment:>12.1%}{predicted_abandon:>12.1%}")  # noqa: T201
    print(f"{'occupancy':22}{result.occupancy:>12.1%}{prediction.occupancy:>12.1%}")  # noqa: T201
    return 0


def _num(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "inf"
