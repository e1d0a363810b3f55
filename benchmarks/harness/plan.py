"""How long a run takes: the expected wall time of every target x scenario x run, and the bound on
the curve's share of it (each curve point is bounded by its generator timeout).

The expected seconds per run are the wall times recorded in this machine's runs (2 cores, AMD EPYC
VM, other agents busy): starting the server, connecting, the warm-up and the window, stopping it.
``run.py --plan`` prints the estimate without running anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.scenarios import Scenario
from harness.targets import Target

#: Seconds of wall time per run, from recorded runs' ``wall_s`` (medians; python-socketio's and the
#: ASGI targets' are `SLOW` times these). A curve point's are 7 s + 1.5 ms a client, fitted to its
#: recorded 1k and 5k points and extrapolated to 10k and 20k.
TYPICAL_S = {
    "echo": 4.3,
    "fanout-1k": 4.6,
    "fanout-5k": 6.9,
    "rooms": 6.3,
    "polling": 4.3,
    "polling-handoff": 4.5,
    "connections": 6.2,
    "cluster-fanout": 5.1,
    "redis-cost": 9.4,
}
#: python-socketio and the ASGI targets (uvicorn) are up to this much slower per run (recorded:
#: 1.2-1.4 on the scenarios that connect thousands of clients).
SLOW = 1.4
#: Starting and stopping a server, beyond the generator's own time.
START_STOP_S = 2.0


def typical_seconds(scenario: Scenario, target: Target) -> float:
    """The expected wall time of one run of `scenario` against `target`."""
    if scenario.group == "curve":
        clients = int(scenario.params.get("clients", 0))
        base = START_STOP_S + 5 + 0.0015 * clients
    else:
        base = TYPICAL_S.get(scenario.name, 10.0)
    slow = target.name.startswith("psio") or target.name.endswith("-asgi")
    return base * (SLOW if slow else 1.0)


@dataclass
class Plan:
    """What a run will do and how long it should take."""

    runs: int = 0  # server runs (target x scenario x run), skipped ones left out
    expected_s: float = 0.0
    curve_runs: int = 0
    curve_expected_s: float = 0.0
    curve_bound_s: float = 0.0  # the curve's worst case: every point at its time bound

    def describe(self) -> str:
        """One paragraph for the console."""
        table = self.expected_s - self.curve_expected_s
        text = (
            f"{self.runs} server runs, expected ~{self.expected_s / 60:.0f} min "
            f"(table scenarios ~{table / 60:.0f} min"
        )
        if self.curve_runs:
            text += (
                f"; the curve's {self.curve_runs} point runs ~{self.curve_expected_s / 60:.0f} min, "
                f"at most {self.curve_bound_s / 60:.0f} min with every point at its time bound; "
                f"worst case in all ~{(table + self.curve_bound_s) / 60:.0f} min"
            )
        return text + ")"


def estimate(
    targets: list[Target],
    scenarios: list[Scenario],
    runs: int,
    curve_runs: int,
    runs_target: Callable[[Target, Scenario], bool],
) -> Plan:
    """The plan of a run: `runs_target(target, scenario)` says whether that pair runs at all."""
    plan = Plan()
    for scenario in scenarios:
        times = curve_runs if scenario.group == "curve" else runs
        for target in targets:
            if not runs_target(target, scenario):
                continue
            seconds = typical_seconds(scenario, target) * times
            plan.runs += times
            plan.expected_s += seconds
            if scenario.group == "curve":
                plan.curve_runs += times
                plan.curve_expected_s += seconds
                plan.curve_bound_s += (scenario.budget_seconds() + START_STOP_S) * times
    return plan
