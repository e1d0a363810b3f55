"""The server measured by measure_idle_cpu.py: a plain AsyncServer, optionally instrumented.

Run: ``python idle_server.py PORT MODE`` with MODE ``none``, ``production`` or ``development``.
Prints its URL once listening; on SIGTERM prints ``{"stats_reports": n, "stats_ms_median": ms}``: how
many ``server_stats`` reports it built with every client connected, and the median time one took.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from statistics import median
from typing import Any

from aiohttp import web

import aiosio

CREDENTIALS = {"username": "admin", "password": "s3cret"}


async def main(port: int, mode: str) -> None:
    """Serve until SIGTERM."""
    sio = aiosio.AsyncServer()
    admin = None
    #: (open connections, seconds) of each server_stats report built.
    timings: list[tuple[int, float]] = []
    if mode != "none":
        admin = sio.instrument(auth=CREDENTIALS, mode=mode)
        reporter = admin._stats
        build = reporter.report

        def timed_report() -> dict[str, Any]:  # the measurement's own wrapper around its own object
            start = time.perf_counter()
            try:
                return build()
            finally:
                timings.append((len(sio.eio.sockets), time.perf_counter() - start))

        reporter.report = timed_report  # type: ignore[method-assign]
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"serving http://127.0.0.1:{port}", flush=True)
    await stop.wait()
    most = max((n for n, _ in timings), default=0)
    full = [seconds for n, seconds in timings if n == most]
    print(
        json.dumps({"stats_reports": len(full), "stats_ms_median": 1000 * median(full) if full else 0}),
        flush=True,
    )
    if admin is not None:
        await admin.shutdown()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
