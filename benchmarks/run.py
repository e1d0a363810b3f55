"""Run the Socket.IO server benchmarks and print the report.

Every selected target runs every selected scenario `--runs` times, each time on a fresh server
pinned to one core with the Node load generator pinned to another (the cluster scenarios: two
fresh servers on the first core, a fresh redis-server with the generator on the second). Runs
are interleaved (run 1 of every target, then run 2, ...) so that a burst of background load hits
all targets alike.
Results go to benchmarks/results/<run id>.jsonl; the report (medians, ratios to aiosio) is
printed and written to benchmarks/results/latest.md. The README's table is rendered from the
committed benchmarks/results/published.jsonl: `--publish <run id>.jsonl` makes a run the published
one and re-renders the table, `--readme` re-renders it from the published file.

    .venv/bin/python benchmarks/run.py [--quick] [--targets a,b] [--scenarios x,y] [--runs N]
    .venv/bin/python benchmarks/run.py --scenarios cluster-fanout,redis-cost
    .venv/bin/python benchmarks/run.py --publish benchmarks/results/<run id>.jsonl
    .venv/bin/python benchmarks/run.py --scenarios curve [--curve-points 1000,5000]  # the curve + plot
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from harness import goals, machine, procs, readme, redis_server
from harness import plan as harness_plan
from harness.plot import curve_clients, curve_title, plot_curve
from harness.report import render
from harness.scenarios import ALL_SCENARIOS, REDIS_SCENARIOS, Scenario, curve_point, select
from harness.targets import DEFAULT_TARGETS, Target, all_targets
from harness.topologies import run_scenario

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    """The command-line options."""
    targets = ", ".join(t.name for t in all_targets())
    scenarios = ", ".join(s.name for s in ALL_SCENARIOS)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", help=f"comma-separated, from: {targets} (default: all but bare-uvloop)")
    p.add_argument("--scenarios", help=f"comma-separated names or prefixes, from: {scenarios}")
    p.add_argument("--runs", type=int, help="runs per target x scenario (default 3, --quick 1)")
    p.add_argument("--quick", action="store_true", help="1 run, 0.5 s warm-up, 2 s windows")
    p.add_argument(
        "--clients",
        type=int,
        help="every scenario with N clients instead of its own count: a smoke run, not comparable",
    )
    p.add_argument(
        "--curve-points",
        help="the curve's client counts, comma-separated (default 1000,5000,10000,20000)",
    )
    p.add_argument(
        "--curve-targets",
        help=(
            "the targets that run the curve's points "
            f"(default: every --targets one, else {','.join(CURVE_TARGETS)})"
        ),
    )
    p.add_argument(
        "--all",
        action="store_true",
        help=(
            "the published run (what scripts/bench with no arguments runs): every default scenario "
            "and the curve (1 run per point unless --curve-runs)"
        ),
    )
    p.add_argument(
        "--curve-runs",
        type=int,
        help="runs of each curve point (default: 1 in a run with other scenarios, else --runs)",
    )
    p.add_argument(
        "--plan", action="store_true", help="print what the run would do and its duration; run nothing"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help=(
            "a profile run: py-spy on every Python server, raw profiles and a Markdown summary per "
            "target x scenario x run in results/profiles/<run id>/ (with the run's own report)"
        ),
    )
    p.add_argument("--out", type=Path, help="results directory (default benchmarks/results)")
    p.add_argument(
        "--targets-check",
        type=Path,
        metavar="JSONL",
        help="print issue 14's targets, met or missed, from a results .jsonl",
    )
    p.add_argument("--report", type=Path, help="only re-render the report of a results .jsonl")
    p.add_argument(
        "--publish",
        type=Path,
        help="make a results .jsonl results/published.jsonl; re-render README.md's table",
    )
    p.add_argument(
        "--readme", action="store_true", help="re-render README.md's table from results/published.jsonl"
    )
    return p.parse_args()


#: The targets of the curve's points (the others record them as skipped) unless ``--curve-targets``
#: names others; a run of the curve alone without ``--targets`` runs these.
CURVE_TARGETS = ("aiosio", "node", "psio", "bare")

#: py-spy's options in a ``--profile`` run (``AIOSIO_BENCH_PYSPY_ARGS`` replaces them; it must keep
#: ``--format raw``, which the summaries read): native frames, 250 samples a second.
PROFILE_PYSPY_ARGS = "--native --rate 250 --format raw"


def select_targets(names: str | None, curve_only: bool = False) -> list[Target]:
    """The targets named in `names` (comma-separated), or the default ones (`curve_only`: the
    curve's)."""
    known = {t.name: t for t in all_targets()}
    wanted = names.split(",") if names else list(CURVE_TARGETS if curve_only else DEFAULT_TARGETS)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in wanted]


def preflight(targets: list[Target], scenarios: list[Scenario], explicit: bool) -> list[Scenario]:
    """Fail early, with a hint, if Node, the npm peers or the redis-server the run needs are missing.

    Returns the scenarios to run: when they were not named (`explicit` False) and redis-server is
    missing, the cluster scenarios are left out with a warning instead.
    """
    if shutil.which("node") is None:
        raise SystemExit("node not found: the load generator needs Node.js 18+")
    needs_npm = any(t.name.startswith("node") for t in targets)
    if needs_npm and not (ROOT / "node_modules" / "socket.io" / "package.json").exists():
        raise SystemExit("node_modules/socket.io missing: run scripts/setup (or npm ci)")
    clustered = [s for s in scenarios if s.name in REDIS_SCENARIOS]
    if not any(s.name not in t.skips for s in clustered for t in targets):
        return scenarios
    if not redis_server.available():
        hint = "redis-server not found: the cluster scenarios need it (apt-get install redis-server)"
        if explicit:
            raise SystemExit(hint)
        print(f"warning: {hint}; skipping {', '.join(s.name for s in clustered)}", file=sys.stderr)
        return [s for s in scenarios if s.name not in REDIS_SCENARIOS]
    for pkg in ("@socket.io/redis-adapter", "redis"):
        if needs_npm and not (ROOT / "node_modules" / pkg / "package.json").exists():
            raise SystemExit(f"node_modules/{pkg} missing: run scripts/setup (or npm ci)")
    return scenarios


def run_one(
    target: Target,
    scenario: Scenario,
    quick: bool,
    cores: tuple[str | None, str | None],
    log: TextIO,
    run: int = 1,
    curve_targets: tuple[str, ...] = (),
    fd_limit: int | None = None,
) -> dict[str, Any]:
    """Run one scenario against fresh server(s) of `target`; return the generator's result.

    A curve point runs only for the `curve_targets` (if given). A scenario with more clients than
    the open-file `fd_limit` allows fails at once, with the reason, except a curve point that the
    limit holds at least 90% of: it runs with as many clients as the limit allows (the 20k point
    under a 20,000 hard limit: 19,960), and its record says so (``clients`` is the true count,
    ``clients_requested`` the point's own, ``fd_limit`` the limit)."""
    if target.unavailable:
        return {"ok": False, "skipped": True, "reason": target.unavailable}
    if scenario.name in target.skips:
        return {"ok": False, "skipped": True}
    if curve_targets and scenario.group == "curve" and target.name not in curve_targets:
        return {"ok": False, "skipped": True}
    clients = int(scenario.params.get("clients", 0))
    capped = None
    if fd_limit is not None:
        capped = procs.fd_capped(clients, fd_limit) if scenario.group == "curve" else None
        short = procs.fd_shortfall(clients, fd_limit)
        if short is not None and capped is None:
            return {"ok": False, "error": short}
    if capped is not None:
        scenario = dataclasses.replace(scenario, params={**scenario.params, "clients": capped})
    try:
        result = run_scenario(target, scenario, quick, cores, log, run)
    except RuntimeError as exc:
        result = {"ok": False, "error": str(exc)}
    if capped is not None:
        result = {**result, "clients": result.get("clients", capped), "clients_requested": clients}
        result["fd_limit"] = fd_limit
    return result


def progress(rec: dict[str, Any], scenario: Scenario, runs: int) -> str:
    """A one-line summary of a finished record for the console."""
    head = f"[{rec['run']}/{runs}] {rec['scenario']:<12} {rec['target']:<14}"
    if rec.get("skipped"):
        return f"{head} skipped"
    if not rec.get("ok"):
        return f"{head} FAILED: {str(rec.get('error')).strip().splitlines()[0][:150]}"
    values = ", ".join(
        f"{rec['metrics'].get(m.key)} {m.header}" for m in scenario.metrics if m.key in scenario.headline
    )
    gen, srv = rec.get("gen_cpu"), rec.get("server_cpu")
    return f"{head} {values}  (gen CPU {gen}, server CPU {srv}, {rec['wall_s']:.1f}s)"


def with_curve_points(scenarios: list[Scenario], points: str | None) -> list[Scenario]:
    """`scenarios` with the curve's points replaced by `points` (comma-separated client counts)."""
    if not points or not any(s.group == "curve" for s in scenarios):
        return scenarios
    counts = sorted({int(p) for p in points.split(",")})
    at = next(i for i, s in enumerate(scenarios) if s.group == "curve")
    rest = [s for s in scenarios if s.group != "curve"]
    return [*rest[:at], *(curve_point(n) for n in counts), *rest[at:]]


def known_scenarios(names: set[str]) -> list[Scenario]:
    """The scenarios of these record names, in report order, curve points of any size included."""
    known = [s for s in ALL_SCENARIOS if s.name in names]
    extra = {curve_clients(n) for n in names - {s.name for s in known}} - {None}
    return [*known, *(curve_point(n) for n in sorted(c for c in extra if c is not None))]


def write_plot(records: list[dict[str, Any]], meta: dict[str, Any], png: Path) -> None:
    """The curve's PNG from `records`, if they hold curve points."""
    targets = [t for t in all_targets() if t.name in {r["target"] for r in records}]
    if plot_curve(records, png, targets, curve_title(meta)) is not None:
        print(f"curve plot: {png}", file=sys.stderr)


def plan_run(args: argparse.Namespace) -> dict[str, Any]:
    """What the command line asks for: targets, scenarios, runs, the curve's targets and runs."""
    if args.all and args.scenarios:
        raise SystemExit("--all runs every scenario: drop --scenarios (or --all)")
    scenarios = select(args.scenarios.split(",") if args.scenarios else None)
    if args.all:
        scenarios = [*scenarios, *select(["curve"])]
    scenarios = with_curve_points(scenarios, args.curve_points)
    targets = select_targets(args.targets, curve_only=all(s.group == "curve" for s in scenarios))
    # Named targets all run the curve; a default run leaves it to the curve's own.
    curve_targets: tuple[str, ...] = () if args.targets else CURVE_TARGETS
    if args.curve_targets:
        curve_targets = tuple(args.curve_targets.split(","))
    if args.clients:
        scenarios = [dataclasses.replace(s, params={**s.params, "clients": args.clients}) for s in scenarios]
    runs = args.runs or (1 if args.quick else 3)
    mixed = any(s.group != "curve" for s in scenarios)
    curve_runs = min(runs, args.curve_runs or (1 if mixed else runs))
    return {
        "targets": targets,
        "scenarios": scenarios,
        "runs": runs,
        "curve_targets": curve_targets,
        "curve_runs": curve_runs,
    }


def will_run(target: Target, scenario: Scenario, curve_targets: tuple[str, ...]) -> bool:
    """Whether `target` runs `scenario` at all (not skipped), for the plan."""
    if target.unavailable or scenario.name in target.skips:
        return False
    return not (curve_targets and scenario.group == "curve" and target.name not in curve_targets)


def describe_plan(plan: dict[str, Any]) -> str:
    """The run's plan and expected duration, for the console and the report header."""
    curve_targets = plan["curve_targets"]
    estimate = harness_plan.estimate(
        plan["targets"],
        plan["scenarios"],
        plan["runs"],
        plan["curve_runs"],
        lambda t, s: will_run(t, s, curve_targets),
    )
    return estimate.describe()


def curve_note(plan: dict[str, Any]) -> str | None:
    """The report header's line on the curve's runs and bounds, if the run has the curve."""
    points = [s for s in plan["scenarios"] if s.group == "curve"]
    if not points:
        return None
    bounds = ", ".join(f"{s.name} {s.budget_seconds():.0f} s" for s in points)
    runs = plan["curve_runs"]
    which = ", ".join(plan["curve_targets"]) or "every target"
    return (
        f"{runs} run(s) per point (the table scenarios: {plan['runs']}), for {which}; each point "
        f"bounded ({bounds}: connecting, warm-up and window), a slower one recorded as timed out"
    )


def move_profiles(staging: Path, dest: Path, stem: str) -> list[Path]:
    """Move the raw py-spy profiles a run left in `staging` to `dest/<stem>[-N].raw.txt`, each
    with its Markdown summary next to it; return the summaries."""
    from harness import profile_summary

    written = []
    raws = sorted(staging.glob("*.txt"))
    for i, raw in enumerate(raws, 1):
        name = stem if len(raws) == 1 else f"{stem}-{i}"
        target = dest / f"{name}.raw.txt"
        shutil.move(raw, target)
        summary = target.with_name(f"{name}.md")
        summary.write_text(profile_summary.summarise(target, title=name))
        written.append(summary)
    for other in staging.iterdir():  # a flame graph or speedscope file, kept as it is
        shutil.move(other, dest / f"{stem}-{other.name}")
    return written


def benchmark(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any], Path]:
    """Run every run x scenario x target, appending each record to the run's JSONL file; return
    the records, the metadata and the directory they went to."""
    plan = plan_run(args)
    targets, scenarios, runs = plan["targets"], plan["scenarios"], plan["runs"]
    curve_targets, curve_runs = plan["curve_targets"], plan["curve_runs"]
    scenarios = preflight(targets, scenarios, explicit=bool(args.scenarios))
    plan["scenarios"] = scenarios
    most_clients = max(int(s.params.get("clients", 0)) for s in scenarios)
    fd_limit = procs.raise_fd_limit(most_clients + procs.FD_HEADROOM)
    cores = procs.pick_cores()

    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir: Path = args.out or RESULTS
    staging: Path | None = None
    if args.profile:
        out_dir = out_dir / "profiles" / run_id
        staging = out_dir / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        os.environ[procs.PROFILER_ENV] = "py-spy"
        os.environ.setdefault(procs.PYSPY_ARGS_ENV, PROFILE_PYSPY_ARGS)
        if "raw" not in os.environ[procs.PYSPY_ARGS_ENV]:
            raise SystemExit(f"--profile summarises raw profiles: {procs.PYSPY_ARGS_ENV} needs --format raw")
        os.environ[procs.PROFILE_ENV] = str(staging)
        procs.py_spy_dir()  # fails early, with a hint, without py-spy
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs" / run_id
    logs.mkdir(parents=True, exist_ok=True)
    config = {
        "Run": f"{run_id}, {runs} run(s){' (quick)' if args.quick else ''}"
        + (f", every scenario with {args.clients} clients (smoke run)" if args.clients else "")
        + (" (PROFILED: py-spy attached, numbers not comparable)" if args.profile else ""),
        "Pinning": f"server on core {cores[0]}, load generator on core {cores[1]}"
        + (
            f" (cluster scenarios: both servers on core {cores[0]}, redis-server on core {cores[1]})"
            if any(s.name in REDIS_SCENARIOS for s in scenarios)
            else ""
        ),
        "Open-file limit": f"{fd_limit:,} (a curve point needs a descriptor per client + {procs.FD_HEADROOM} "
        "in the server and in the generator)",
    }
    note = curve_note(plan)
    if note:
        config["Curve"] = note
    meta = {
        "machine": machine.describe(),
        "config": config,
        "targets": [t.name for t in targets],
        "scenarios": [s.name for s in scenarios],
    }
    (out_dir / f"{run_id}.meta.json").write_text(json.dumps(meta, indent=2))
    jsonl = out_dir / f"{run_id}.jsonl"
    print(f"results: {jsonl}", file=sys.stderr)
    print(f"plan: {describe_plan(plan)}", file=sys.stderr)

    records: list[dict[str, Any]] = []
    with jsonl.open("a") as out:
        for run in range(1, runs + 1):
            for scenario in scenarios:
                if scenario.group == "curve" and run > curve_runs:
                    continue
                for target in targets:
                    started = time.monotonic()
                    with (logs / f"{target.name}-{scenario.name}-{run}.log").open("w") as log:
                        result = run_one(
                            target, scenario, args.quick, cores, log, run, curve_targets, fd_limit
                        )
                    # The generator's own `scenario` is its function name ("fanout"); ours wins.
                    rec = {
                        **result,
                        "run_id": run_id,
                        "run": run,
                        "target": target.name,
                        "scenario": scenario.name,
                        "quick": args.quick,
                        "wall_s": round(time.monotonic() - started, 2),
                    }
                    records.append(rec)
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                    print(progress(rec, scenario, runs), file=sys.stderr, flush=True)
                    if staging is not None:
                        for summary in move_profiles(
                            staging, out_dir, f"{target.name}-{scenario.name}-{run}"
                        ):
                            print(f"profile: {summary}", file=sys.stderr)
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    return records, meta, out_dir


def load(jsonl: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records of an earlier run, and its metadata if the sidecar file is there."""
    records = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    meta_path = jsonl.with_suffix(".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return records, meta


def report_text(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The run's Markdown report: the tables, then issue 14's targets."""
    present_t = {r["target"] for r in records}
    targets = [t for t in all_targets() if t.name in present_t]
    scenarios = known_scenarios({r["scenario"] for r in records})
    report = render(records, meta.get("machine", {}), meta.get("config", {}), targets, scenarios)
    return report + "\n" + "\n".join(goals.render(records)) + "\n"


def main() -> None:
    """Run the benchmark (or re-render a report), then print and save the report."""
    args = parse_args()
    if args.targets_check:
        records, _ = load(args.targets_check)
        heading = f"Targets of issue 14 in {args.targets_check.name}"
        print("\n".join(goals.render(records, heading=heading, commands=True)))
        return
    if args.plan:
        print(describe_plan(plan_run(args)))
        return
    if args.publish or args.readme:
        if args.publish:
            readme.publish(args.publish)
        records, meta = load(readme.PUBLISHED)
        targets = [t for t in all_targets() if t.name in {r["target"] for r in records}]
        # The curve is the plot's, not the table's.
        scenarios = [s for s in known_scenarios({r["scenario"] for r in records}) if s.group != "curve"]
        block = readme.render_block(records, meta, targets, scenarios)
        block += "\n\n" + "\n".join(goals.render(records, heading="**Targets of issue 14 in this run**"))
        readme.update_readme(block)
        print(block)
        readme.update_curve(records, meta)
        return
    if args.report:
        records, meta = load(args.report)
        write_plot(records, meta, args.report.with_suffix(".curve.png"))
        print(report_text(records, meta))
        return
    records, meta, out_dir = benchmark(args)
    report = report_text(records, meta)
    print(report)
    if not args.profile:
        (out_dir / "latest.md").write_text(report)
    (out_dir / f"{records[0]['run_id']}.md").write_text(report)
    jsonl = out_dir / f"{records[0]['run_id']}.jsonl"
    write_plot(records, meta, jsonl.with_suffix(".curve.png"))
    if args.profile:
        print(f"profiles and their summaries: {out_dir}", file=sys.stderr)
    else:
        print(
            f"run id {records[0]['run_id']}; to publish it (README table, targets, curve):", file=sys.stderr
        )
        print(f"  benchmarks/run.py --publish {jsonl}", file=sys.stderr)
        print(f"  benchmarks/run.py --targets-check {jsonl}", file=sys.stderr)


if __name__ == "__main__":
    main()
