"""Issue 14's targets, checked against one run's records: each one met or missed, with its numbers.

``run.py --targets-check <run>.jsonl`` prints the table; every report (``<run id>.md``) and the
README's benchmark block end with it. The records are one per target x scenario x run, so the
"in every run" targets list each run's ratio (run *r* of aiosio against run *r* of Node: the runs
are interleaved, so the two saw the same background load); the others compare medians over runs.

A target whose numbers are not in the run (the scenario or a target not run, every run failed) is
*not measured*, which counts as missed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.plot import curve_clients

MET, MISSED, INFO, UNMEASURED = "met", "missed", "info", "not measured"

Records = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """One target of the issue and how it came out."""

    goal: str  # what the issue asks, e.g. "echo: aiosio-uvloop / node ≥ 1.1 in every run"
    result: str  # MET, MISSED, INFO (a reference number, no threshold) or UNMEASURED
    numbers: str  # the numbers behind it
    scored: bool = True  # False: a reference number (the bare ceiling), not a target

    @property
    def scenario(self) -> str:
        """The scenario the target is about (the goal's first word)."""
        return self.goal.split(":", 1)[0]


def values(records: Records, target: str, scenario: str, key: str) -> dict[int, float]:
    """Run number → the metric `key` of `target` in `scenario`, for the runs that succeeded."""
    out: dict[int, float] = {}
    for r in records:
        if r.get("target") == target and r.get("scenario") == scenario and r.get("ok"):
            value = r.get("metrics", {}).get(key)
            if value is not None:
                out[int(r.get("run", 1))] = float(value)
    return out


def runs_of(records: Records, target: str, scenario: str) -> list[int]:
    """Every run number recorded for `target` in `scenario` (failed ones included, skipped not)."""
    return sorted(
        {
            int(r.get("run", 1))
            for r in records
            if r.get("target") == target and r.get("scenario") == scenario and not r.get("skipped")
        }
    )


def median(xs: dict[int, float]) -> float | None:
    """The median of the values, or None if there are none."""
    return statistics.median(xs.values()) if xs else None


def num(x: float | None, digits: int = 0) -> str:
    """A number with thousands separators ("-" if missing)."""
    return "-" if x is None else f"{x:,.{digits}f}"


def verdict(ok: bool) -> str:
    """MET or MISSED."""
    return MET if ok else MISSED


def ratio_every_run(
    records: Records, scenario: str, key: str, top: str, bottom: str, at_least: float
) -> Check:
    """`top` / `bottom` on `key` ≥ `at_least` in each run (a run either of them failed: missed)."""
    goal = f"{scenario}: {top} / {bottom} ≥ {at_least:g} in every run"
    a, b = values(records, top, scenario, key), values(records, bottom, scenario, key)
    runs = sorted(set(runs_of(records, top, scenario)) | set(runs_of(records, bottom, scenario)))
    if not a or not b:
        return Check(goal, UNMEASURED, f"{top}: {len(a)} ok run(s), {bottom}: {len(b)}")
    parts, ok = [], True
    for run in runs:
        if run in a and run in b and b[run]:
            r = a[run] / b[run]
            ok &= r >= at_least
            parts.append(f"run {run}: {r:.2f} ({num(a[run])} / {num(b[run])})")
        else:
            ok = False
            parts.append(f"run {run}: failed")
    ma, mb = median(a), median(b)
    med = f"; medians {num(ma)} / {num(mb)} = {ma / mb:.2f}" if ma and mb else ""
    return Check(goal, verdict(ok), "; ".join(parts) + med)


def ratio_of_medians(
    records: Records, scenario: str, key: str, top: str, bottom: str, at_least: float | None
) -> Check:
    """Median of `top` / median of `bottom` on `key` ≥ `at_least` (None: reported as INFO)."""
    goal = f"{scenario}: {top} / {bottom}" + (f" ≥ {at_least:g}" if at_least is not None else " (reference)")
    a, b = values(records, top, scenario, key), values(records, bottom, scenario, key)
    ma, mb = median(a), median(b)
    scored = at_least is not None
    if ma is None or not mb:
        return Check(goal, UNMEASURED, f"{top}: {len(a)} ok run(s), {bottom}: {len(b)}", scored)
    r = ma / mb
    per_run = ", ".join(f"{a[run] / b[run]:.2f}" for run in sorted(a) if b.get(run))
    text = f"{r:.2f} (medians {num(ma)} / {num(mb)} {key.replace('_per_s', '/s')}; per run {per_run})"
    return Check(goal, INFO if at_least is None else verdict(r >= at_least), text, scored)


def memory_checks(records: Records) -> list[Check]:
    """Idle KiB per WebSocket connection (``connections``): ≤ 13, below Node, within 1 KiB of bare."""
    key, scenario = "kib_per_conn", "connections"
    a = median(values(records, "aiosio", scenario, key))
    node = median(values(records, "node", scenario, key))
    bare = median(values(records, "bare", scenario, key))
    out = []
    goal = f"{scenario}: aiosio KiB/conn ≤ 13"
    out.append(Check(goal, UNMEASURED, "-") if a is None else Check(goal, verdict(a <= 13), f"{a:.1f} KiB"))
    goal = f"{scenario}: aiosio KiB/conn below Node's"
    if a is None or node is None:
        out.append(Check(goal, UNMEASURED, f"aiosio {num(a, 1)}, node {num(node, 1)}"))
    else:
        out.append(Check(goal, verdict(a < node), f"aiosio {a:.1f} vs node {node:.1f} KiB"))
    goal = f"{scenario}: aiosio KiB/conn ≤ bare + 1"
    if a is None or bare is None:
        out.append(Check(goal, UNMEASURED, f"aiosio {num(a, 1)}, bare {num(bare, 1)}"))
    else:
        out.append(
            Check(goal, verdict(a <= bare + 1), f"aiosio {a:.1f} vs bare {bare:.1f} KiB ({a - bare:+.1f})")
        )
    return out


def curve_points(records: Records, target: str) -> list[tuple[str, int, dict[int, dict[str, Any]]]]:
    """`target`'s curve points in order of clients: (scenario, true client count, run → record)."""
    points: dict[str, dict[int, dict[str, Any]]] = {}
    for r in records:
        if r.get("target") != target or r.get("skipped") or curve_clients(str(r.get("scenario"))) is None:
            continue
        points.setdefault(r["scenario"], {})[int(r.get("run", 1))] = r
    out = []
    for name, runs in points.items():
        counts = [int(r["clients"]) for r in runs.values() if r.get("ok") and r.get("clients")]
        clients = min(counts) if counts else curve_clients(name) or 0
        out.append((name, clients, runs))
    return sorted(out, key=lambda p: curve_clients(p[0]) or 0)


def point_label(name: str, clients: int) -> str:
    """``curve-20k (19,960 clients)`` when the point ran fewer clients than its name says."""
    return name if clients == curve_clients(name) else f"{name} ({clients:,} clients)"


def curve_checks(records: Records) -> list[Check]:
    """aiosio's curve: flat deliveries/s (min/max ≥ 0.8) and KiB/conn ≤ 13 at every point."""
    points = curve_points(records, "aiosio")
    goal = "curve: aiosio deliveries/s min / max over the points ≥ 0.8"
    if not points:
        return [Check(goal, UNMEASURED, "no curve points in this run")]
    rates: list[tuple[str, float | None]] = []
    mems: list[tuple[str, float | None]] = []
    for name, clients, runs in points:
        ok = [r for r in runs.values() if r.get("ok")]
        label = point_label(name, clients)
        rate = [
            float(r["metrics"]["deliveries_per_s"]) for r in ok if "deliveries_per_s" in r.get("metrics", {})
        ]
        mem = [float(r["metrics"]["kib_per_conn"]) for r in ok if "kib_per_conn" in r.get("metrics", {})]
        rates.append((label, statistics.median(rate) if rate else None))
        mems.append((label, statistics.median(mem) if mem else None))
    failed = [label for label, rate in rates if rate is None]
    good = [rate for _, rate in rates if rate is not None]
    text = ", ".join(f"{label}: {num(rate)}" for label, rate in rates)
    if not good:
        flat = Check(goal, UNMEASURED, text)
    else:
        share = min(good) / max(good)
        # A point that failed or timed out is a miss: the curve is not flat to it.
        flat = Check(goal, verdict(share >= 0.8 and not failed), f"{share:.2f} ({text})")
    good_mem = [m for _, m in mems if m is not None]
    goal_mem = "curve: aiosio KiB/conn ≤ 13 at every point"
    mem_text = ", ".join(f"{label}: {num(m, 1)}" for label, m in mems)
    if not good_mem:
        memory = Check(goal_mem, UNMEASURED, mem_text)
    else:
        memory = Check(goal_mem, verdict(max(good_mem) <= 13 and len(good_mem) == len(mems)), mem_text)
    return [flat, memory]


def p99_check(records: Records) -> Check:
    """fanout-5k: aiosio's completion p99 ≤ 50 ms (median over runs; each run listed)."""
    goal = "fanout-5k: aiosio completion p99 ≤ 50 ms"
    p99 = values(records, "aiosio", "fanout-5k", "p99_ms")
    m = median(p99)
    if m is None:
        return Check(goal, UNMEASURED, "-")
    runs = ", ".join(f"{p99[r]:.1f}" for r in sorted(p99))
    return Check(goal, verdict(m <= 50), f"{m:.1f} ms (median; per run {runs})")


#: Every check of the issue, in the order of the issue.
CHECKS: tuple[Callable[[Records], list[Check]], ...] = (
    lambda r: [
        ratio_every_run(r, "echo", "acks_per_s", "aiosio-uvloop", "node", 1.1),
        ratio_every_run(r, "echo", "acks_per_s", "aiosio", "node", 1.0),
        ratio_of_medians(r, "echo", "acks_per_s", "aiosio", "psio", 4.5),
    ],
    lambda r: [
        ratio_of_medians(r, "polling", "acks_per_s", "aiosio", "node", 1.2),
        ratio_of_medians(r, "polling", "acks_per_s", "bare", "node", None),
    ],
    memory_checks,
    lambda r: [p99_check(r), ratio_of_medians(r, "fanout-5k", "deliveries_per_s", "aiosio", "node", 1.3)],
    curve_checks,
)


def check(records: Records) -> list[Check]:
    """Every target of issue 14 against `records` (one run's)."""
    return [c for group in CHECKS for c in group(records)]


#: How to profile a missed target's scenario: ``run.py --profile`` and these arguments (the idle
#: memory has no CPU profile: benchmarks/micro/idle_memory.py traces where its bytes are).
PROFILE_ARGS = {
    "echo": "--targets aiosio,aiosio-uvloop --scenarios echo --runs 1",
    "polling": "--targets aiosio,bare --scenarios polling --runs 1",
    "fanout-5k": "--targets aiosio,bare --scenarios fanout-5k --runs 1",
    "curve": "--targets aiosio --scenarios curve-1k,curve-20k --runs 1",
}


def profile_command(c: Check) -> str:
    """The command that profiles a missed target's scenario."""
    args = PROFILE_ARGS.get(c.scenario)
    if args is None:  # connections: memory
        return ".venv/bin/python benchmarks/micro/idle_memory.py 1000 --trace"
    return f".venv/bin/python benchmarks/run.py --profile {args}"


def render(records: Records, heading: str = "## Targets (issue 14)", commands: bool = False) -> list[str]:
    """The Markdown section: one row per target, met / missed with the numbers, and a tally;
    `commands`: then the command that profiles each missed target's scenario."""
    checks = check(records)
    lines = [heading, ""] if heading else []
    lines += ["| target | result | numbers |", "| --- | --- | --- |"]
    for c in checks:
        mark = {MET: "**met**", MISSED: "**MISSED**", UNMEASURED: "**not measured**"}.get(c.result, c.result)
        lines.append(f"| {c.goal} | {mark if c.scored else c.result} | {c.numbers} |")
    scored = [c for c in checks if c.scored]
    met = sum(c.result == MET for c in scored)
    lines += ["", f"{met} of {len(scored)} targets met (not measured counts as missed)."]
    missed = [c for c in scored if c.result != MET]
    if commands and missed:
        lines += ["", "Profile runs for the misses (one each; results/profiles/<run id>/):", ""]
        for cmd in dict.fromkeys(profile_command(c) for c in missed):
            lines.append(f"    {cmd}")
    return lines
