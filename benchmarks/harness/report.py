"""Turning result records into the Markdown report: medians over runs and ratios to aiosio."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.scenarios import Scenario
from harness.targets import BASELINE, Target

# A generator busier than this may have been the bottleneck: its numbers are lower bounds.
SATURATED = 0.9


@dataclass
class Cell:
    """The runs of one target x scenario, reduced to medians."""

    metrics: dict[str, float] = field(default_factory=dict)
    gen_cpu: float | None = None
    server_cpu: float | None = None
    server_core_busy: float | None = None
    ok_runs: int = 0
    runs: int = 0
    skipped: bool = False
    timed_out: bool = False  # every run failed, at least one by the generator's timeout

    @property
    def saturated(self) -> bool:
        """Whether the load generator was (nearly) saturated in the median run."""
        return self.gen_cpu is not None and self.gen_cpu >= SATURATED

    @property
    def other_load(self) -> float | None:
        """The share of the server's core that something other than the server used."""
        if self.server_core_busy is None or self.server_cpu is None:
            return None
        return max(0.0, self.server_core_busy - self.server_cpu)


def median(values: Sequence[float | None]) -> float | None:
    """The median of the non-null values, or None if there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def reduce(records: list[dict[str, Any]]) -> dict[tuple[str, str], Cell]:
    """Group records by (target, scenario) and take the median of every number over ok runs."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["target"], rec["scenario"]), []).append(rec)
    cells: dict[tuple[str, str], Cell] = {}
    for key, recs in groups.items():
        ok = [r for r in recs if r.get("ok")]
        cell = Cell(ok_runs=len(ok), runs=len(recs), skipped=all(r.get("skipped") for r in recs))
        cell.timed_out = not ok and any(r.get("timed_out") for r in recs)
        keys = {k for r in ok for k in r.get("metrics", {})}
        for k in keys:
            m = median([r["metrics"].get(k) for r in ok])
            if m is not None:
                cell.metrics[k] = m
        cell.gen_cpu = median([r.get("gen_cpu") for r in ok])
        cell.server_cpu = median([r.get("server_cpu") for r in ok])
        cell.server_core_busy = median([r.get("server_core_busy") for r in ok])
        cells[key] = cell
    return cells


def fmt(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators, or "-" when missing."""
    return "-" if value is None else f"{value:,.{digits}f}"


def pct(value: float | None) -> str:
    """A fraction of one core as a percentage."""
    return "-" if value is None else f"{value * 100:.0f}%"


def ratio(cell: Cell, base: Cell | None, key: str) -> str:
    """`cell`'s metric divided by the baseline's, as "x1.23"."""
    value = cell.metrics.get(key)
    ref = base.metrics.get(key) if base else None
    if value is None or not ref:
        return "-"
    return f"x{value / ref:.2f}"


def status(cell: Cell | None) -> str | None:
    """The placeholder for a cell without numbers ("skipped", "failed"), else None."""
    if cell is None:
        return "not run"
    if cell.skipped:
        return "skipped"
    if cell.ok_runs == 0:
        return "timed out" if cell.timed_out else "failed"
    return None


def summary_table(
    cells: dict[tuple[str, str], Cell], targets: list[Target], scenarios: list[Scenario]
) -> list[str]:
    """One row per target, one column per headline metric: median (ratio to the baseline)."""
    columns = [(s, m) for s in scenarios for m in s.metrics if m.key in s.headline]
    header = ["Target"] + [f"{s.name} {m.header}" for s, m in columns]
    lines = [row(header), row(["---"] + ["---:"] * len(columns))]
    for t in targets:
        out = [t.label]
        for s, m in columns:
            cell = cells.get((t.name, s.name))
            note = status(cell)
            if note is not None or cell is None:
                out.append(note or "")
                continue
            base = cells.get((BASELINE, s.name))
            mark = " †" if cell.saturated else ""
            value = fmt(cell.metrics.get(m.key), m.digits)
            out.append(f"{value} ({ratio(cell, base, m.key)}){mark}" if m.compare else f"{value}{mark}")
        lines.append(row(out))
    return lines


def detail_table(cells: dict[tuple[str, str], Cell], targets: list[Target], scenario: Scenario) -> list[str]:
    """Every metric of one scenario, with ratios for the headline ones and CPU use."""
    header = ["Target"]
    for m in scenario.metrics:
        header.append(m.header)
        if m.key in scenario.headline and m.compare:
            header.append(f"vs {BASELINE}")
    header += ["gen CPU", "server CPU", "other load", "runs ok"]
    lines = [row(header), row(["---"] + ["---:"] * (len(header) - 1))]
    base = cells.get((BASELINE, scenario.name))
    for t in targets:
        cell = cells.get((t.name, scenario.name))
        note = status(cell)
        if note is not None or cell is None:
            lines.append(row([t.label, note or ""] + [""] * (len(header) - 2)))
            continue
        out = [t.label]
        for m in scenario.metrics:
            out.append(fmt(cell.metrics.get(m.key), m.digits))
            if m.key in scenario.headline and m.compare:
                out.append(ratio(cell, base, m.key))
        gen = pct(cell.gen_cpu) + (" †" if cell.saturated else "")
        out += [gen, pct(cell.server_cpu), pct(cell.other_load), f"{cell.ok_runs}/{cell.runs}"]
        lines.append(row(out))
    return lines


def row(cells: list[str]) -> str:
    """A Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def failures(records: list[dict[str, Any]]) -> list[str]:
    """One bullet per failed run, with the first line of its error."""
    out = []
    for r in records:
        if not r.get("ok") and not r.get("skipped"):
            first = str(r.get("error", "unknown error")).strip().splitlines()[0][:200]
            out.append(f"- {r['target']} / {r['scenario']} run {r['run']}: {first}")
    return out


def capped_note(records: list[dict[str, Any]], scenario: str) -> str | None:
    """ "curve-20k: 19,960 clients, open-file limit 20,000" when the open-file limit made that
    point run fewer clients than its name says (None otherwise)."""
    capped = [r for r in records if r.get("scenario") == scenario and r.get("clients_requested")]
    if not capped:
        return None
    clients = min(int(r.get("clients", 0)) for r in capped)
    limit = min(int(r.get("fd_limit", 0)) for r in capped)
    return (
        f"{scenario}: {clients:,} clients, open-file limit {limit:,} "
        f"(the point's {int(capped[0]['clients_requested']):,} need more descriptors than that in "
        "the server and in the generator)"
    )


def render(
    records: list[dict[str, Any]],
    machine: dict[str, str],
    config: dict[str, str],
    targets: list[Target],
    scenarios: list[Scenario],
) -> str:
    """The whole Markdown report."""
    cells = reduce(records)
    lines = ["# Socket.IO server benchmark", ""]
    lines += [f"- **{k}**: {v}" for k, v in {**machine, **config}.items()]
    lines += [
        "",
        f"Medians over runs; ratios are to **{BASELINE}** (higher is better except KiB/conn, "
        "p50/p99). † = load generator ≥ 90% of its core: that number is a lower bound. "
        "CPU columns are shares of one core during the measurement window; *other load* is the "
        "share of the server's core used by anything else (other processes, interrupts): when "
        "high, that target's numbers are depressed by machine noise.",
        "",
        "## Summary",
        "",
        *summary_table(cells, targets, scenarios),
    ]
    notes = [n for n in (capped_note(records, s.name) for s in scenarios) if n]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    for s in scenarios:
        note = capped_note(records, s.name)
        title = s.title if note is None else f"{s.title}. **{note}**"
        lines += ["", f"## {s.name}", "", title, "", *detail_table(cells, targets, s)]
    failed = failures(records)
    if failed:
        lines += ["", "## Failed runs", "", *failed]
    return "\n".join(lines) + "\n"
