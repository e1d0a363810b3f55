"""The curve's plot: fan-out deliveries/s and KiB per connection against the number of clients, one
line per target, drawn with matplotlib from a run's records (its JSONL) into a PNG.

A point whose runs all failed is not a number: it is drawn as a cross on the x axis, labelled
"timed out" (the generator's time bound) or "failed".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.report import Cell, reduce
from harness.targets import Target

CURVE = re.compile(r"^curve-(\d+)(k?)$")


def curve_clients(scenario: str) -> int | None:
    """The number of clients of a curve point's scenario name (``curve-5k`` → 5000), else None."""
    m = CURVE.match(scenario)
    if m is None:
        return None
    return int(m.group(1)) * (1000 if m.group(2) else 1)


def true_clients(records: list[dict[str, Any]], target: str, scenario: str) -> int | None:
    """The clients a curve point really ran (fewer than its name says when the open-file limit
    capped it: the records' ``clients``), else the count in its name."""
    counts = [
        int(r["clients"])
        for r in records
        if r.get("target") == target and r.get("scenario") == scenario and r.get("clients")
    ]
    return min(counts) if counts else curve_clients(scenario)


def curve_cells(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, Cell]]]:
    """Per target, its curve points (the clients they really ran, medians over runs) in order of
    clients."""
    out: dict[str, list[tuple[int, Cell]]] = {}
    for (target, scenario), cell in reduce(records).items():
        clients = true_clients(records, target, scenario) if curve_clients(scenario) else None
        if clients is not None and not cell.skipped:
            out.setdefault(target, []).append((clients, cell))
    for points in out.values():
        points.sort(key=lambda p: p[0])
    return out


def plot_curve(
    records: list[dict[str, Any]], out: Path, targets: list[Target], title: str = ""
) -> Path | None:
    """Draw the curve of `records` into the PNG `out`; None (nothing written) without curve points.

    `targets` gives the order and the labels of the lines (targets not in it are labelled by name).
    """
    cells = curve_cells(records)
    if not cells:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    labels = {t.name: t.label for t in targets}
    order = [t.name for t in targets if t.name in cells] + sorted(set(cells) - set(labels))
    xs = sorted({clients for points in cells.values() for clients, _ in points})
    fig, (rate_ax, mem_ax) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    panels = ((rate_ax, "deliveries_per_s", "deliveries/s"), (mem_ax, "kib_per_conn", "KiB per connection"))
    for ax, key, ylabel in panels:
        for name in order:
            points = cells[name]
            good = [(c, cell.metrics[key]) for c, cell in points if key in cell.metrics]
            line = ax.plot(
                [c for c, _ in good], [v for _, v in good], marker="o", label=labels.get(name, name)
            )[0]
            for clients, cell in points:
                if cell.ok_runs == 0:
                    what = "timed out" if cell.timed_out else "failed"
                    ax.plot([clients], [0], marker="x", markersize=10, color=line.get_color(), clip_on=False)
                    ax.annotate(
                        what,
                        (clients, 0),
                        textcoords="offset points",
                        xytext=(4, 6),
                        fontsize=8,
                        color=line.get_color(),
                    )
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        ax.minorticks_off()
        ax.set_xlabel("connected clients")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(True, alpha=0.3)
    rate_ax.set_title("fan-out: deliveries/s (1 broadcast in flight)")
    mem_ax.set_title("server RSS growth per idle connection")
    rate_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def curve_title(meta: dict[str, Any]) -> str:
    """The plot's caption: the run and the machine it ran on."""
    machine: dict[str, str] = meta.get("machine", {})
    config: dict[str, str] = meta.get("config", {})
    parts = [config.get("Run", ""), machine.get("CPU", ""), config.get("Pinning", "")]
    return "; ".join(p for p in parts if p)
