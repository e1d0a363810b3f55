"""The benchmark's ``--workers`` targets and the polling hand-off scenario, run for real at a tiny
scale (10 clients, sub-second windows), as benchmarks/run.py runs them: ``aiosio run --workers N``
started by the harness, the Node load generator, every process stopped by its pid. What is checked
is the harness, not the numbers."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

from peers import require_node

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from harness import topologies  # noqa: E402
from harness.procs import pick_cores  # noqa: E402
from harness.scenarios import ALL_SCENARIOS, REDIS_SCENARIOS, Scenario, select  # noqa: E402
from harness.targets import DEFAULT_TARGETS, Target, all_targets  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

TINY = {"clients": 10, "warmup": 0.2, "duration": 0.5}


def scenario(name: str) -> Scenario:
    """The named benchmark scenario, shrunk to `TINY`."""
    base = next(s for s in ALL_SCENARIOS if s.name == name)
    return dataclasses.replace(base, params={**base.params, **TINY})


def target(name: str) -> Target:
    """The named benchmark target."""
    return next(t for t in all_targets() if t.name == name)


def run(target_name: str, scenario_name: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """One run of the scenario against the target (run number 1), and what the servers logged."""
    with (tmp_path / "run.log").open("w+") as log:
        result = topologies.run_scenario(
            target(target_name), scenario(scenario_name), False, pick_cores(), log, 1
        )
        log.seek(0)
        return result, log.read()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name", ["echo", "fanout-1k", "polling-handoff"])
def test_workers_targets_run_the_scenarios(name: str, workers: int, tmp_path: Path) -> None:
    """Echo, fan-out and the hand-off scenario run end to end against ``--workers 1`` and ``2``;
    with 2 the server CPU counts the workers (the supervisor alone does next to nothing)."""
    require_node()
    result, output = run(f"aiosio-workers{workers}", name, tmp_path)
    assert result.get("ok"), f"{result.get('error')}\n{output[-2000:]}"
    assert result["clients"] == TINY["clients"]
    metric = "deliveries_per_s" if name.startswith("fanout") else "acks_per_s"
    assert result["metrics"][metric] > 0
    assert result["server_cpu"] > 0.05, result


def test_handoff_scenario_is_on_request_and_the_workers_targets_are_not_default() -> None:
    """A default run (no --scenarios, default targets) runs neither; the hand-off scenario is
    chosen by its full name only (``--scenarios polling`` keeps meaning the polling scenario)."""
    assert "polling-handoff" not in [s.name for s in select(None)]
    assert [s.name for s in select(["polling"])] == ["polling"]
    assert [s.name for s in select(["polling-handoff"])] == ["polling-handoff"]
    assert not {"aiosio-workers1", "aiosio-workers2"} & set(DEFAULT_TARGETS)
    two = target("aiosio-workers2")
    assert (two.pinned, two.workers) == (False, 2)
    assert two.skips >= REDIS_SCENARIOS
