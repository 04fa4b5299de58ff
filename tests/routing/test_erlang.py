"""Erlang C and Erlang A against published worked examples.

Erlang C: the worked example of Call Centre Helper, "Erlang C Formula – Made Simple
With an Easy Worked Example" (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm):
100 calls in 30 minutes, 180 s handle time, 80 % answered in 20 s, at most 85 %
occupancy, 30 % shrinkage. The article works it through to 10 Erlangs; with 11
agents a call waits with probability 68.21 % and the service level is 39 %; 14 agents
are the fewest reaching the target (88.8 % in 20 s, 17.4 % waiting, 71.4 % occupancy);
20 agents must be scheduled once shrinkage is added. The CRAN package ErlangC 0.1.0
publishes the same example with more digits in its README
(https://cran.r-project.org/package=ErlangC: wait probability 0.1741319, service level
0.88835, average speed of answer 7.83593701177724 s, occupancy 0.7142857 for 14 agents;
0.6821182 and 0.3896138 for 11), and pyworkforce's test of the example
(rodrigo-arenas/pyworkforce, tests/test_queing.py) expects 14, 20, 0.888, 0.714, 0.174.

Erlang A: with very patient callers the model must equal Erlang C (its published
limit, Mandelbaum & Zeltyn, "The Palm/Erlang-A Queue, with Applications to Call
Centers", 2005, section 3), and its abandonment must obey the identity
P{Ab} = theta * E[Q] / lambda given there (section 4.6). tests/routing/test_simulate.py
checks both models against the routing engine run in simulated time.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from hub.errors import ValidationFailed
from hub.routing.erlang import (
    erlang_a_staffing,
    erlang_c,
    erlang_c_staffing,
    required_agents,
    traffic,
)

EXAMPLE = {"calls": 100, "interval": 1800, "aht": 180}


def test_call_centre_helper_example_traffic_and_eleven_agents() -> None:
    a = traffic(**EXAMPLE)
    assert a == 10.0
    eleven = erlang_c_staffing(11, a, 180, 20)
    assert round(eleven.wait_probability, 7) == 0.6821182
    assert round(eleven.service_level, 7) == 0.3896138


def test_call_centre_helper_example_needs_fourteen_agents_and_twenty_with_shrinkage() -> None:
    figures, staff = required_agents(**EXAMPLE, target_sl=0.8, target_seconds=20, max_occupancy=0.85, shrinkage=0.3)
    assert figures.agents == 14
    assert round(figures.service_level, 5) == 0.88835
    assert round(figures.wait_probability, 7) == 0.1741319
    assert round(figures.asa, 6) == 7.835937
    assert round(figures.occupancy, 7) == 0.7142857
    assert staff == 20


def test_occupancy_cap_adds_agents() -> None:
    figures, _ = required_agents(calls=100, interval=1800, aht=180, target_sl=0.5, target_seconds=20, max_occupancy=0.7)
    assert figures.agents == 15 and figures.occupancy <= 0.7


def test_erlang_c_is_stable_for_thousands_of_agents_and_overload_means_everyone_waits() -> None:
    assert 0 < erlang_c(2000, 1950.0) < 1
    assert erlang_c(10, 10.0) == 1.0
    overloaded = erlang_c_staffing(9, 10.0, 180, 20)
    assert overloaded.service_level == 0.0 and math.isinf(overloaded.asa)


def test_erlang_a_with_endless_patience_is_erlang_c() -> None:
    c = erlang_c_staffing(14, 10.0, 180, 20)
    a = erlang_a_staffing(14, 10.0, 180, 1e12, 20)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa == pytest.approx(c.asa, rel=1e-5)


def test_erlang_a_abandonment_obeys_its_identity_and_is_stable_when_overloaded() -> None:
    figures = erlang_a_staffing(8, 10.0, 180, 60, 20)  # fewer agents than load: only abandonment keeps it stable
    theta, lam = 1 / 60, 10.0 / 180
    queue_length = figures.asa * lam
    assert figures.abandon_probability == pytest.approx(theta * queue_length / lam)
    assert 0 < figures.abandon_probability < 1 and figures.occupancy < 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_sl": 1.2}, "between 0 and 1"),
        ({"target_sl": 0.8, "shrinkage": 1.0}, "shrinkage"),
        ({"target_sl": 0.8, "max_occupancy": 0}, "max occupancy"),
    ],
)
def test_bad_staffing_questions_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        required_agents(**EXAMPLE, target_seconds=20, **kwargs)  # type: ignore[arg-type]
    assert message in caught.value.detail


def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=60, check=False)


def test_hub_erlang_json_is_the_contract_output() -> None:
    done = hub_cli("erlang", "--calls", "100", "--interval", "1800", "--aht", "180", "--target-sl", "0.8",
                   "--target-seconds", "20", "--max-occupancy", "0.85", "--shrinkage", "0.3", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "erlang_c" and result["traffic_erlangs"] == 10.0
    assert result["required"]["agents"] == 14 and result["staff_with_shrinkage"] == 20


def test_hub_erlang_refuses_nonsense_with_a_message() -> None:
    done = hub_cli("erlang", "--calls", "100", "--interval", "0", "--aht", "180", "--target-sl", "0.8",
                   "--target-seconds", "20")
    assert done.returncode == 2 and "interval" in done.stderr and done.stdout == ""
