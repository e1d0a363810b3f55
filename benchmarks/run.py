"""Run the Socket.IO server benchmarks and print the report.

Every selected target runs every selected scenario `--runs` times, each time on a fresh server
pinned to one core with the Node load generator pinned to another. Runs are interleaved (run 1
of every target, then run 2, ...) so that a burst of background load hits all targets alike.
Results go to benchmarks/results/<run id>.jsonl; the report (medians, ratios to aiosio) is
printed and written to benchmarks/results/latest.md. The README's table is rendered from the
committed benchmarks/results/published.jsonl: `--publish <run id>.jsonl` makes a run the published
one and re-renders the table, `--readme` re-renders it from the published file.

    .venv/bin/python benchmarks/run.py [--quick] [--targets a,b] [--scenarios x,y] [--runs N]
    .venv/bin/python benchmarks/run.py --publish benchmarks/results/<run id>.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from harness import machine, procs, readme
from harness.report import render
from harness.scenarios import ALL_SCENARIOS, Scenario, select
from harness.targets import DEFAULT_TARGETS, Target, all_targets

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
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
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


def select_targets(names: str | None) -> list[Target]:
    """The targets named in `names` (comma-separated), or the default ones."""
    known = {t.name: t for t in all_targets()}
    wanted = names.split(",") if names else list(DEFAULT_TARGETS)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in wanted]


def preflight(targets: list[Target]) -> None:
    """Fail early, with a hint, if Node or the npm peers the targets need are missing."""
    if shutil.which("node") is None:
        raise SystemExit("node not found: the load generator needs Node.js 18+")
    needs_npm = any(t.name == "node" for t in targets)
    if needs_npm and not (ROOT / "node_modules" / "socket.io" / "package.json").exists():
        raise SystemExit("node_modules/socket.io missing: run scripts/setup (or npm ci)")


def run_one(
    target: Target,
    scenario: Scenario,
    quick: bool,
    cores: tuple[str | None, str | None],
    log: TextIO,
) -> dict[str, Any]:
    """Run one scenario against a fresh server of `target`; return the generator's result."""
    if scenario.name in target.skips:
        return {"ok": False, "skipped": True}
    try:
        with procs.server(list(target.argv), cores[0], log) as (proc, port):
            result = procs.run_loadgen(
                scenario.loadgen_args(quick), port, proc.pid, cores, scenario.budget_seconds(), log
            )
            if proc.poll() is not None:
                result = {"ok": False, "error": f"server died (exit code {proc.returncode})"}
    except RuntimeError as exc:
        result = {"ok": False, "error": str(exc)}
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


def benchmark(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every run x scenario x target, appending each record to the run's JSONL file."""
    targets = select_targets(args.targets)
    scenarios = select(args.scenarios.split(",") if args.scenarios else None)
    preflight(targets)
    runs = args.runs or (1 if args.quick else 3)
    most_clients = max(int(s.params.get("clients", 0)) for s in scenarios)
    procs.raise_fd_limit(most_clients + 1000)
    cores = procs.pick_cores()

    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out / "logs" / run_id
    logs.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": machine.describe(),
        "config": {
            "Run": f"{run_id}, {runs} run(s){' (quick)' if args.quick else ''}",
            "Pinning": f"server on core {cores[0]}, load generator on core {cores[1]}",
        },
        "targets": [t.name for t in targets],
        "scenarios": [s.name for s in scenarios],
    }
    (args.out / f"{run_id}.meta.json").write_text(json.dumps(meta, indent=2))
    jsonl = args.out / f"{run_id}.jsonl"
    print(f"results: {jsonl}", file=sys.stderr)

    records: list[dict[str, Any]] = []
    with jsonl.open("a") as out:
        for run in range(1, runs + 1):
            for scenario in scenarios:
                for target in targets:
                    started = time.monotonic()
                    with (logs / f"{target.name}-{scenario.name}-{run}.log").open("w") as log:
                        result = run_one(target, scenario, args.quick, cores, log)
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
    return records, meta


def load(jsonl: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records of an earlier run, and its metadata if the sidecar file is there."""
    records = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    meta_path = jsonl.with_suffix(".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return records, meta


def main() -> None:
    """Run the benchmark (or re-render a report), then print and save the report."""
    args = parse_args()
    if args.publish or args.readme:
        if args.publish:
            readme.publish(args.publish)
        records, meta = load(readme.PUBLISHED)
        targets = [t for t in all_targets() if t.name in {r["target"] for r in records}]
        scenarios = [s for s in ALL_SCENARIOS if s.name in {r["scenario"] for r in records}]
        block = readme.render_block(records, meta, targets, scenarios)
        readme.update_readme(block)
        print(block)
        return
    if args.report:
        records, meta = load(args.report)
    else:
        records, meta = benchmark(args)
    present_t = {r["target"] for r in records}
    present_s = {r["scenario"] for r in records}
    targets = [t for t in all_targets() if t.name in present_t]
    scenarios = [s for s in ALL_SCENARIOS if s.name in present_s]
    report = render(records, meta.get("machine", {}), meta.get("config", {}), targets, scenarios)
    print(report)
    if not args.report:
        (args.out / "latest.md").write_text(report)
        (args.out / f"{records[0]['run_id']}.md").write_text(report)
        jsonl = args.out / f"{records[0]['run_id']}.jsonl"
        print(f"to make this run the README's table: benchmarks/run.py --publish {jsonl}", file=sys.stderr)


if __name__ == "__main__":
    main()
