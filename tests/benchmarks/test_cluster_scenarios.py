"""The benchmark's cluster scenarios, run for real at a tiny scale (10 clients, sub-second windows).

They start what the real benchmark starts (benchmarks/harness/topologies.py): a fresh redis-server,
two servers of a target on it, the Node load generator with its clients split between the two, every
process stopped by its pid. What is checked is the harness, not the numbers: every broadcast sent on
server 1 reached every client of both servers (the generator fails a run otherwise), and the record
carries what the report shows.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, TextIO

import pytest

from peers import require_executable, require_module, require_node

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from harness import topologies  # noqa: E402
from harness.procs import pick_cores  # noqa: E402
from harness.report import render  # noqa: E402
from harness.scenarios import ALL_SCENARIOS, REDIS_SCENARIOS, Scenario  # noqa: E402
from harness.targets import Target, all_targets  # noqa: E402

pytestmark = pytest.mark.interop

TINY = {"clients": 10, "warmup": 0.2, "duration": 0.5}


def scenario(name: str) -> Scenario:
    """The named benchmark scenario, shrunk to `TINY`."""
    base = next(s for s in ALL_SCENARIOS if s.name == name)
    return dataclasses.replace(base, params={**base.params, **TINY})


def target(name: str) -> Target:
    """The named benchmark target."""
    return next(t for t in all_targets() if t.name == name)


@pytest.fixture
def peers() -> None:
    """Skip (or fail on CI) without redis-server, Node and the npm peers, redis-py, python-socketio."""
    require_executable("redis-server")
    require_node()
    require_module("redis")
    require_module("socketio")


def run(target_name: str, scenario_name: str, log: TextIO) -> dict[str, Any]:
    """One run of the scenario against the target, as run.py does it (run number 1).

    `log` must be a real file: the servers and the redis-server write to its descriptor.
    """
    return topologies.run_scenario(target(target_name), scenario(scenario_name), False, pick_cores(), log, 1)


@pytest.mark.parametrize("name", ["aiosio", "node", "psio"])
def test_cluster_fanout_reaches_both_servers(name: str, peers: None, tmp_path: Path) -> None:
    with (tmp_path / "run.log").open("w+") as log:
        result = run(name, "cluster-fanout", log)
        log.seek(0)
        output = log.read()
    assert result.get("ok"), f"{result.get('error')}\n{output[-2000:]}"
    assert result["clients"] == TINY["clients"]
    assert result["split"] == [5, 5]  # half of the clients on each server
    assert result["probes"] >= 1
    metrics = result["metrics"]
    # Every completed broadcast reached all 10 clients, 5 of them on the second server.
    assert metrics["broadcasts"] > 0
    assert metrics["deliveries_per_s"] > 0
    assert "redis_cpu_pct" in metrics
    # Server CPU is both servers' (they share a core): the per-CPU-second rate divides by it.
    assert result["server_cpu"] > 0
    assert metrics["deliveries_per_cpu_s"] == pytest.approx(
        metrics["deliveries_per_s"] / result["server_cpu"], rel=1e-3
    )


def test_redis_cost_runs_with_and_without_redis(peers: None, tmp_path: Path) -> None:
    with (tmp_path / "run.log").open("w+") as log:
        result = run("aiosio", "redis-cost", log)
        log.seek(0)
        output = log.read()
    assert result.get("ok"), f"{result.get('error')}\n{output[-2000:]}"
    metrics = result["metrics"]
    plain = result["without_redis"]["metrics"]["deliveries_per_s"]
    assert metrics["plain_deliveries_per_s"] == plain
    assert metrics["kept_pct"] == pytest.approx(100 * metrics["deliveries_per_s"] / plain, abs=0.1)
    plain_per_cpu = result["without_redis"]["metrics"]["deliveries_per_cpu_s"]
    assert metrics["kept_cpu_pct"] == pytest.approx(
        100 * metrics["deliveries_per_cpu_s"] / plain_per_cpu, abs=0.1
    )
    # Only the with-Redis side had a redis-server to measure.
    assert "redis_cpu_pct" in metrics
    assert "redis_cpu_pct" not in result["without_redis"]["metrics"]
    assert output.index("without Redis") < output.index("with Redis")


def test_targets_without_a_cluster_skip_the_cluster_scenarios() -> None:
    assert {"cluster-fanout", "redis-cost"} <= REDIS_SCENARIOS
    for t in all_targets():
        if t.name.startswith("bare"):
            assert REDIS_SCENARIOS.issubset(t.skips)
        elif t.name in ("aiosio", "psio", "node"):
            assert not REDIS_SCENARIOS & t.skips


def test_report_shows_kept_share_without_a_ratio() -> None:
    records = [
        {
            "ok": True,
            "target": name,
            "scenario": "redis-cost",
            "run": 1,
            "metrics": {"deliveries_per_s": rate, "plain_deliveries_per_s": rate * 1.25, "kept_pct": 80.0},
        }
        for name, rate in (("aiosio", 100_000.0), ("node", 50_000.0))
    ]
    targets = [target("aiosio"), target("node")]
    report = render(records, {}, {}, targets, [scenario("redis-cost")])
    summary = report.split("## Summary")[1].split("## redis-cost")[0]
    # Deliveries/s get their ratio to aiosio, the kept share (already a ratio) does not.
    assert "| Node socket.io 4.8 | 50,000 (x0.50) | 80.0 |" in summary
