"""docs/demo.md's ``aiosio client ... --emit join_prices --listen``, run as written against
``aiosio serve``."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCS_URL = "http://127.0.0.1:8080"


def documented_command() -> list[str]:
    """The one ``aiosio client`` line of docs/demo.md that joins the prices room."""
    lines = [
        line.strip()
        for line in (REPO / "docs" / "demo.md").read_text().splitlines()
        if line.strip().startswith("aiosio client") and "join_prices" in line
    ]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def aiosio_command() -> list[str]:
    """``aiosio`` as a person types it: the console script next to this interpreter."""
    script = Path(sys.executable).with_name("aiosio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiosio.cli.main"]


async def test_the_documented_listener_sees_ticks(
    db_path: Path, aiosio_server: Callable[[list[str]], Any]
) -> None:
    server = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    argv = documented_command()
    assert argv[:2] == ["aiosio", "client"] and DOCS_URL in argv
    argv = [*aiosio_command(), *(server.url if arg == DOCS_URL else arg for arg in argv[1:])]

    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    events: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None

        async def read_until_ticks(wanted: int) -> None:
            ticks = 0
            while ticks < wanted:
                line = await proc.stdout.readline()  # type: ignore[union-attr]
                assert line, "the listener stopped early"
                events.append(json.loads(line))
                ticks += events[-1]["event"] == "tick"

        # Bounded: 5 ticks a second, so 8 ticks take under 2 s; allow for a busy machine.
        await asyncio.wait_for(read_until_ticks(8), 20)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)  # how a person stops it: Ctrl+C
        returncode = await asyncio.wait_for(proc.wait(), 10)
        stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert returncode == 0, stderr  # Ctrl+C while listening is a normal end

    # The join's acknowledgement with the prices, and ticks (and stats) as JSON lines. (The ack
    # is printed first as a rule; a tick may overtake it on the way to stdout, so no order here.)
    (ack_line,) = [e for e in events if "ack" in e]
    assert ack_line["event"] == "join_prices"
    ack = ack_line["ack"][0]
    assert ack["ok"] is True and ack["room"] == "prices"
    ticks = [e["args"][0] for e in events if e["event"] == "tick"]
    seqs = [t["seq"] for t in ticks]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(set(t["prices"]) <= set(ack["symbols"]) for t in ticks)

    assert server.stop(signal.SIGTERM) == 0
    # The ticker stopped cleanly: no error, no traceback, no task destroyed while pending.
    output = server.output()
    assert not re.search(r"ERROR|CRITICAL|Traceback|Task was destroyed|never awaited", output), output
