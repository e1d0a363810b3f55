"""Measure what the Admin UI costs a server with many idle clients (docs/admin-ui.md quotes it).

For each mode (not instrumented, production, development) and each round: start idle_server.py,
connect ``--clients`` idle npm socket.io-client WebSocket connections (idle_clients.js; with an
admin connected to /admin when instrumented), let it settle, then read the server process's CPU
time (utime + stime from /proc) over ``--seconds``. Modes alternate round by round, so a noisy
neighbour hurts them alike. Prints one JSON line per run and a summary.

Run from the repository root: ``.venv/bin/python tests/admin/measure_idle_cpu.py --clients 5000``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``proc`` (fails after ``timeout`` seconds)."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError(f"no output from {proc.args!r} within {timeout}s")
    return proc.stdout.readline()


def run(mode: str, clients: int, settle: float, seconds: float) -> dict[str, Any]:
    """One measurement."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "idle_server.py"), str(port), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    loader = None
    try:
        read_line(server, 20)
        cfg = {
            "url": f"http://127.0.0.1:{port}",
            "clients": clients,
            "admin": None if mode == "none" else {"username": "admin", "password": "s3cret"},
        }
        loader = subprocess.Popen(
            ["node", str(HERE / "idle_clients.js"), json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        ready = json.loads(read_line(loader, 180))
        assert ready.get("ready") == clients + (mode != "none"), ready
        time.sleep(settle)
        start_cpu, start = cpu_seconds(server.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(server.pid) - start_cpu, time.monotonic() - start
        server.send_signal(signal.SIGTERM)
        timing = json.loads(read_line(server, 20))
        return {
            "mode": mode,
            "clients": clients,
            "cpu_percent": round(100 * used / elapsed, 2),
            "stats_reports": timing["stats_reports"],
            "stats_ms_each": round(timing["stats_ms_median"], 3),
        }
    finally:
        if loader is not None:
            if loader.stdin is not None:
                loader.stdin.close()
            try:
                loader.wait(20)
            except subprocess.TimeoutExpired:
                loader.kill()
                loader.wait(5)
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def main() -> None:
    """Parse the options and run the rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--modes", default="none,production,development")
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for mode in args.modes.split(","):
            result = run(mode, args.clients, args.settle, args.seconds)
            print(json.dumps(result), flush=True)
            results.setdefault(mode, []).append(result)
    summary = {
        mode: {
            "cpu_percent_median": median(r["cpu_percent"] for r in runs),
            "stats_ms_each_median": median(r["stats_ms_each"] for r in runs),
        }
        for mode, runs in results.items()
    }
    print(json.dumps({"summary": summary, "clients": args.clients, "seconds": args.seconds}), flush=True)


if __name__ == "__main__":
    main()
