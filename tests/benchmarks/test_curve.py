"""The benchmark's curve (fan-out and idle memory per connection at several numbers of clients), its
plot and README hook, and its time bound, run for real at tiny sizes (50 and 100 clients,
sub-second windows) for aiosio, Node socket.io and python-socketio, as benchmarks/run.py runs them.
What is checked is the harness, not the numbers."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from peers import require_module, require_node

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from harness import readme, topologies  # noqa: E402
from harness.plot import curve_cells, curve_clients, plot_curve  # noqa: E402
from harness.procs import pick_cores  # noqa: E402
from harness.report import render  # noqa: E402
from harness.scenarios import CURVE_POINTS, Scenario, curve_point, select  # noqa: E402
from harness.targets import Target, all_targets  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

TINY = {"warmup": 0.2, "duration": 0.5, "settle": 0.2}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny(clients: int) -> Scenario:
    """The curve's point at `clients`, with sub-second windows."""
    base = curve_point(clients)
    return dataclasses.replace(base, params={**base.params, **TINY})


def target(name: str) -> Target:
    """The named benchmark target."""
    return next(t for t in all_targets() if t.name == name)


def run(target_name: str, scenario: Scenario, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """One run of `scenario` against the target, and what the processes logged."""
    with (tmp_path / f"{target_name}-{scenario.name}.log").open("w+") as log:
        result = topologies.run_scenario(target(target_name), scenario, False, pick_cores(), log, 1)
        log.seek(0)
        return result, log.read()


def test_curve_is_on_request_and_selected_by_its_group() -> None:
    """A default run has no curve; ``--scenarios curve`` selects its four points, a point's full
    name selects that point; names map back to client counts."""
    assert not [s for s in select(None) if s.group == "curve"]
    assert [s.name for s in select(["curve"])] == ["curve-1k", "curve-5k", "curve-10k", "curve-20k"]
    assert [s.name for s in select(["curve-5k"])] == ["curve-5k"]
    assert [s.name for s in select(["fanout"])] == ["fanout-1k", "fanout-5k"]
    assert CURVE_POINTS == (1000, 5000, 10_000, 20_000)
    assert [curve_clients(curve_point(n).name) for n in (50, 1000, 20_000)] == [50, 1000, 20_000]
    assert curve_clients("fanout-1k") is None
    # Every point is bounded, the largest one too.
    assert curve_point(1000).budget_seconds() == pytest.approx(19)
    assert curve_point(20_000).budget_seconds() == pytest.approx(95)


def test_curve_points_for_aiosio_node_and_psio_and_their_plot(tmp_path: Path) -> None:
    """Each target runs 50 and 100 clients: fan-out numbers and the idle RSS growth per connection
    come back for every point, and the plot is written from the records."""
    require_node()
    require_module("socketio")
    records = []
    for name in ("aiosio", "node", "psio"):
        for clients in (50, 100):
            result, output = run(name, tiny(clients), tmp_path)
            assert result.get("ok"), f"{name} {clients}: {result.get('error')}\n{output[-2000:]}"
            assert result["clients"] == clients
            metrics = result["metrics"]
            assert metrics["deliveries_per_s"] > 0 and metrics["broadcasts"] > 0
            # The memory reading: RSS after the clients connected minus before, per client.
            assert metrics["rss_after_mib"] >= metrics["rss_before_mib"] > 0
            expected = (metrics["rss_after_mib"] - metrics["rss_before_mib"]) * 1024 / clients
            assert metrics["kib_per_conn"] == pytest.approx(expected, abs=1024 * 0.1 / clients + 0.01)
            records.append({**result, "target": name, "scenario": f"curve-{clients}", "run": 1})
    cells = curve_cells(records)
    assert {n: [c for c, _ in points] for n, points in cells.items()} == {
        "aiosio": [50, 100],
        "node": [50, 100],
        "psio": [50, 100],
    }
    png = plot_curve(records, tmp_path / "curve.png", all_targets(), "tiny curve")
    assert png is not None
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 10_000  # two panels with three lines each, not an empty canvas


def test_a_point_over_its_time_bound_is_recorded_as_timed_out(tmp_path: Path) -> None:
    """A point that cannot finish inside its budget comes back as timed out at the bound (the
    generator killed, the server stopped), and the report and the plot say so."""
    require_node()
    slow = dataclasses.replace(tiny(50), params={**tiny(50).params, "duration": 30}, budget=3)
    started = time.monotonic()
    result, _ = run("aiosio", slow, tmp_path)
    elapsed = time.monotonic() - started
    assert not result["ok"] and result["timed_out"], result
    assert elapsed < 3 + 10  # the budget, plus stopping the server
    records = [
        {**result, "target": "aiosio", "scenario": "curve-50", "run": 1},
        {
            "ok": True,
            "target": "node",
            "scenario": "curve-50",
            "run": 1,
            "metrics": {"deliveries_per_s": 1.0},
        },
    ]
    report = render(records, {}, {}, [target("aiosio"), target("node")], [slow])
    assert "| aiosio (asyncio) | timed out |" in report
    (point,) = curve_cells(records)["aiosio"]
    assert point[0] == 50 and point[1].timed_out and point[1].ok_runs == 0  # drawn as a cross
    assert plot_curve(records, tmp_path / "t.png", all_targets()) is not None


def test_a_default_run_runs_the_curve_for_its_own_targets_only(tmp_path: Path) -> None:
    """In a run of every default target, a target outside the curve's (psio-uvloop) records the
    curve's points as skipped, without starting anything."""
    import run as run_py

    assert run_py.CURVE_TARGETS == ("aiosio", "node", "psio", "bare")
    with (tmp_path / "log").open("w") as log:
        rec = run_py.run_one(
            target("psio-uvloop"), curve_point(1000), False, pick_cores(), log, 1, run_py.CURVE_TARGETS
        )
    assert rec == {"ok": False, "skipped": True}


def test_run_py_writes_the_curve_records_report_and_plot(tmp_path: Path) -> None:
    """``run.py --scenarios curve --curve-points 20,40 --targets aiosio`` end to end: one record per
    point in the JSONL, the report's columns, and ``<run id>.curve.png``; ``--report`` redraws it."""
    require_node()
    out = tmp_path / "results"
    cmd = [sys.executable, str(BENCH / "run.py"), "--quick", "--scenarios", "curve"]
    cmd += ["--curve-points", "20,40", "--targets", "aiosio", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=100, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (jsonl,) = out.glob("*.jsonl")
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(r["scenario"], r["ok"]) for r in records] == [("curve-20", True), ("curve-40", True)]
    assert "curve-20 KiB/conn" in done.stdout and "curve-40 deliveries/s" in done.stdout
    png = jsonl.with_suffix(".curve.png")
    assert png.read_bytes()[:8] == PNG_MAGIC
    png.unlink()
    again = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--report", str(jsonl)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_readme_hook_embeds_the_published_curve(tmp_path: Path) -> None:
    """The README block between the curve markers becomes the plot's image and its caption; the
    table's block is untouched; a run without the curve leaves the README as it is."""
    records = [
        {"ok": True, "target": t, "scenario": f"curve-{n}", "run": 1, "metrics": {"deliveries_per_s": n * k}}
        for t, k in (("aiosio", 3.0), ("node", 2.0))
        for n in (1000, 5000)
    ]
    meta = {"config": {"Run": "20260101T000000Z, 1 run(s)"}}
    png = readme.RESULTS / "test-curve.png"  # inside the repository (and ignored by git)
    try:
        block = readme.curve_block(records, meta, png)
        assert block is not None
        assert block.startswith("![") and "(benchmarks/results/test-curve.png)" in block
        assert "20260101T000000Z" in block
        assert png.read_bytes()[:8] == PNG_MAGIC
    finally:
        png.unlink(missing_ok=True)
    text = f"a\n{readme.START}\nTABLE\n{readme.END}\nb\n{readme.CURVE_START}\nold\n{readme.CURVE_END}\nc\n"
    new = readme.replace_block(text, "NEW", readme.CURVE_START, readme.CURVE_END)
    assert (
        new
        == f"a\n{readme.START}\nTABLE\n{readme.END}\nb\n{readme.CURVE_START}\nNEW\n{readme.CURVE_END}\nc\n"
    )
    assert readme.curve_block([{**records[0], "scenario": "fanout-1k"}], meta, tmp_path / "x.png") is None
    assert not (tmp_path / "x.png").exists()
    # The project README carries both markers.
    assert readme.CURVE_START in readme.README.read_text()


def can_raise_hard_limits() -> bool:
    """Whether this process has CAP_SYS_RESOURCE (root outside a restricting container)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return os.geteuid() == 0


def test_fd_limit_is_raised_for_20k_clients_or_the_run_says_why() -> None:
    """20,000 clients need more descriptors than a 20,000 hard limit: the harness raises it where
    it may, and otherwise warns with what to do."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[1]);"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 20000));"
        "from harness.procs import raise_fd_limit; n = raise_fd_limit(21000);"
        "print(n, resource.getrlimit(resource.RLIMIT_NOFILE)[1], file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, timeout=30, check=True
    )
    soft, hard = (int(x) for x in done.stderr.split())
    if can_raise_hard_limits():
        assert soft == hard >= 21000
        assert "warning" not in done.stdout
    else:
        assert soft == hard == 20000
        assert "open-file limit 20000 < 21000" in done.stdout and "ulimit -Hn" in done.stdout


def test_a_scenario_beyond_the_fd_limit_fails_at_once_with_the_reason(tmp_path: Path) -> None:
    """No server nor generator is started for a scenario the open-file limit cannot hold: any
    scenario but a curve point, and a curve point the limit holds less than 90% of."""
    import run as run_py

    connections = next(s for s in select(None) if s.name == "connections")
    for scenario, limit, needed in ((connections, 10_000, 10_040), (curve_point(20_000), 17_000, 20_040)):
        started = time.monotonic()
        with (tmp_path / "log").open("w") as log:
            rec = run_py.run_one(target("aiosio"), scenario, False, pick_cores(), log, 1, (), limit)
        assert time.monotonic() - started < 1
        assert rec == {"ok": False, "error": rec["error"]}
        clients = int(scenario.params["clients"])
        assert rec["error"].startswith(f"open-file limit {limit} < {needed} needed for {clients} clients")
        assert (tmp_path / "log").read_text() == ""


def test_the_20k_point_runs_as_many_clients_as_the_fd_limit_allows() -> None:
    """Under a 20,000 limit the 20k point runs 20,000 minus the measured headroom; where the limit
    allows 20,000 it runs 20,000; under a limit far below it, it fails."""
    from harness import procs

    assert procs.fd_capped(20_000, 20_000) == 20_000 - procs.FD_HEADROOM
    assert 19_900 <= procs.fd_capped(20_000, 20_000) < 20_000  # type: ignore[operator]
    assert procs.fd_capped(20_000, 20_000 + procs.FD_HEADROOM) is None  # fits: runs 20,000
    assert procs.fd_shortfall(20_000, 20_000 + procs.FD_HEADROOM) is None
    assert procs.fd_capped(20_000, 17_000) is None and procs.fd_shortfall(20_000, 17_000)


def test_a_capped_point_runs_under_the_limit_and_says_so(tmp_path: Path) -> None:
    """run.py under a hard open-file limit of 410 runs the 400-client point with 370 clients (the
    server and the generator each need one descriptor per client plus their headroom: with less
    headroom than they really use, 400 clients would not fit in 410), records the true count, and
    the report, the targets table and the plot's x values use it."""
    require_node()
    if can_raise_hard_limits():
        pytest.skip("run.py would raise the hard limit here: nothing is capped")
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (410, 410))

    out = tmp_path / "results"
    cmd = [sys.executable, str(BENCH / "run.py"), "--quick", "--scenarios", "curve", "--curve-points", "400"]
    cmd += ["--targets", "aiosio", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=100, check=False, preexec_fn=limit)
    assert done.returncode == 0, done.stderr[-2000:]
    (jsonl,) = out.glob("*.jsonl")
    (rec,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert rec["ok"], rec.get("error")
    assert (rec["clients"], rec["clients_requested"], rec["fd_limit"]) == (370, 400, 410)
    assert rec["metrics"]["broadcasts"] > 0
    report = jsonl.with_suffix(".md").read_text()
    assert "curve-400: 370 clients, open-file limit 410" in report
    assert "curve-400 (370 clients)" in report  # the targets table
    assert [c for c, _ in curve_cells([rec])["aiosio"]] == [370]  # the plot's x
    assert jsonl.with_suffix(".curve.png").read_bytes()[:8] == PNG_MAGIC
