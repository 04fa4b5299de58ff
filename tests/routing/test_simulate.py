"""The engine in simulated time agrees with Erlang C and Erlang A within statistical error.

A lean run here (about 30,000 calls); docs/routing.md has the long runs behind the tolerance.
"""

from __future__ import annotations

import json
import subprocess
import sys

from hub.routing.erlang import erlang_a_staffing, erlang_c_staffing
from hub.routing.simulate import Scenario, simulate


def test_the_engine_in_simulated_time_agrees_with_erlang_c() -> None:
    result = simulate(Scenario(agents=14, arrivals_per_second=1 / 18, aht=180, target_seconds=20,
                               duration=6 * 86_400, warmup=3600, seed=11))
    predicted = erlang_c_staffing(14, 10.0, 180, 20)
    assert result.arrivals > 25_000 and result.abandoned == 0
    assert abs(result.service_level - predicted.service_level) < 0.03
    assert abs(result.occupancy - predicted.occupancy) < 0.02
    assert abs(result.asa - predicted.asa) < 0.3 * predicted.asa


def test_the_engine_in_simulated_time_agrees_with_erlang_a() -> None:
    result = simulate(Scenario(agents=9, arrivals_per_second=1 / 18, aht=180, target_seconds=20,
                               duration=4 * 86_400, warmup=3600, patience=90, seed=5))
    predicted = erlang_a_staffing(9, 10.0, 180, 90, 20)
    assert abs(result.abandonment - predicted.abandon_probability) < 0.02
    assert abs(result.service_level - predicted.service_level) < 0.03
    assert abs(result.occupancy - predicted.occupancy) < 0.02


def test_hub_simulate_prints_both_columns() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub", "simulate", "--agents", "3", "--calls", "40", "--aht", "180",
         "--hours", "4", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["simulated"]) >= {"service_level", "asa_seconds", "abandonment", "occupancy"}
    assert report["predicted"]["occupancy"] == 40 * 180 / 3600 / 3
