"""The README's benchmark table, rendered from the committed results file it is published from.

``run.py --publish <run>.jsonl`` copies a run's results (and its ``.meta.json``) to
``benchmarks/results/published.jsonl`` / ``published.meta.json``, which are committed, and renders the
table between the README's ``<!-- benchmark-table -->`` markers from that copy; ``run.py --readme``
re-renders it from the committed copy alone. Either way the table can be reproduced from the repository.
If the published run has the curve (``--scenarios ...,curve``), both also draw its plot into
``benchmarks/results/published-curve.png`` (committed) and embed it between the README's
``<!-- benchmark-curve -->`` markers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from harness.report import reduce, summary_table
from harness.scenarios import Scenario
from harness.targets import Target

RESULTS = Path(__file__).resolve().parent.parent / "results"
PUBLISHED = RESULTS / "published.jsonl"
PUBLISHED_META = RESULTS / "published.meta.json"
README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"
CURVE_START, CURVE_END = "<!-- benchmark-curve -->", "<!-- /benchmark-curve -->"
PUBLISHED_CURVE = RESULTS / "published-curve.png"


def publish(jsonl: Path) -> None:
    """Copy a run's results and metadata to the committed ``published.*`` files."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(jsonl, PUBLISHED)
    meta = jsonl.with_suffix(".meta.json")
    if meta.exists():
        shutil.copyfile(meta, PUBLISHED_META)
    else:
        PUBLISHED_META.unlink(missing_ok=True)


def handler_tasks(python: str) -> str:
    """How that Python starts coroutine handlers (engine/eager.py)."""
    try:
        major, minor = (int(part) for part in python.split(".")[:2])
    except ValueError:
        return "coroutine handlers run in their own Task"
    if (major, minor) >= (3, 12):
        return "coroutine handlers start as eager Tasks (one that never suspends costs no loop round trip)"
    return "every coroutine handler is a Task scheduled through the event loop: eager start needs 3.12"


def render_block(
    records: list[dict[str, Any]], meta: dict[str, Any], targets: list[Target], scenarios: list[Scenario]
) -> str:
    """The Markdown that goes between the README's markers."""
    machine: dict[str, str] = meta.get("machine", {})
    config: dict[str, str] = meta.get("config", {})
    runs = max((int(r.get("run", 1)) for r in records), default=0)
    python = machine.get("Python", "unknown")
    head = (
        f"Medians of {runs} run(s), rendered by `benchmarks/run.py --readme` from "
        f"`benchmarks/results/published.jsonl` ({config.get('Run', 'run id unknown')}). "
        f"{machine.get('CPU', 'CPU unknown')}; {config.get('Pinning', '')}. "
        f"Python {python} ({handler_tasks(python)}), aiohttp {machine.get('aiohttp', '?')}, "
        f"python-socketio {machine.get('python-socketio', '?')}, Node {machine.get('Node', '?')} with "
        f"socket.io {machine.get('npm socket.io', '?')}. Ratios are to aiosio on asyncio; † the load "
        "generator saturated its core: a lower bound."
    )
    table = summary_table(reduce(records), targets, scenarios)
    return "\n".join([head, "", *table])


def replace_block(text: str, block: str, start_mark: str = START, end_mark: str = END) -> str:
    """``text`` with everything between the markers replaced by ``block``."""
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {start_mark} ... {end_mark} block")
    return text[: start + len(start_mark)] + "\n" + block + "\n" + text[end:]


def curve_block(
    records: list[dict[str, Any]], meta: dict[str, Any], png: Path = PUBLISHED_CURVE
) -> str | None:
    """Draw the published run's curve into `png`; the Markdown embedding it (None: no curve)."""
    from harness.plot import curve_title, plot_curve
    from harness.targets import all_targets

    targets = [t for t in all_targets() if t.name in {r["target"] for r in records}]
    if plot_curve(records, png, targets, curve_title(meta)) is None:
        return None
    config: dict[str, str] = meta.get("config", {})
    rel = png.relative_to(README.parent) if png.is_relative_to(README.parent) else png
    return (
        f"![fan-out deliveries/s and KiB per connection at each number of clients]({rel.as_posix()})\n\n"
        f"Drawn by `benchmarks/run.py --readme` from `benchmarks/results/published.jsonl` "
        f"({config.get('Run', 'run id unknown')}): the `curve` scenarios, {curve_runs(records)}; a point "
        "marked with a cross timed out (its time bound) or failed."
        + "".join(f" {note}." for note in capped_notes(records))
    )


def curve_runs(records: list[dict[str, Any]]) -> str:
    """ "1 run per point" or "medians of 3 runs per point", from the curve's records."""
    from harness.plot import curve_clients

    runs = {int(r.get("run", 1)) for r in records if curve_clients(str(r["scenario"])) is not None}
    return "1 run per point" if len(runs) <= 1 else f"medians of {len(runs)} runs per point"


def capped_notes(records: list[dict[str, Any]]) -> list[str]:
    """The curve points the open-file limit made run fewer clients (see report.capped_note)."""
    from harness.plot import curve_clients
    from harness.report import capped_note

    names = sorted(
        {str(r["scenario"]) for r in records if curve_clients(str(r["scenario"]))},
        key=lambda name: curve_clients(name) or 0,
    )
    return [n for n in (capped_note(records, name) for name in names) if n]


def update_curve(records: list[dict[str, Any]], meta: dict[str, Any], readme: Path = README) -> None:
    """Redraw the published curve and embed it in the README (nothing if the run has no curve)."""
    block = curve_block(records, meta)
    if block is not None:
        readme.write_text(replace_block(readme.read_text(), block, CURVE_START, CURVE_END))


def update_readme(block: str, readme: Path = README) -> None:
    """Write ``block`` into the README between the markers."""
    readme.write_text(replace_block(readme.read_text(), block))
