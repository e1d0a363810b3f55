"""Start-up code shared by the Python benchmark servers: event-loop choice and the aiohttp site.

With ``AIOSIO_BENCH_PROFILE=<dir>`` in the environment a server runs under cProfile and, when the
harness stops it (SIGTERM), writes ``<dir>/<script>-<port>.prof`` and a text summary ``.txt`` next
to it (its command line, the top functions by own time and by cumulative time). Profiling slows the
server down: use it for a separate run that explains a number, never for the numbers themselves.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from aiohttp import web

LOOPS = ("asyncio", "uvloop")
PROFILE_ENV = "AIOSIO_BENCH_PROFILE"


async def serve_forever(make_app: Callable[[], web.Application], port: int) -> None:
    """Build the app inside the running loop and serve it on 127.0.0.1:`port` until killed."""
    # The app is built here rather than by the caller because servers may create loop-bound
    # objects when constructed.
    app = make_app()
    # access_log=None: aiohttp's per-request access logging would tax only the polling scenario.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # A deep backlog so that the bounded-concurrency connection ramp never sees refused SYNs.
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    await asyncio.Event().wait()


def profile_until_terminated(out_dir: str, port: int) -> None:
    """Profile this process from now on; on SIGTERM write the profile and its summary, then exit."""
    profiler = cProfile.Profile()
    base = Path(out_dir) / f"{Path(sys.argv[0]).stem}-{port}"

    def dump(signum: int, frame: FrameType | None) -> None:
        profiler.disable()
        base.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(f"{base}.prof")
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        Path(f"{base}.txt").write_text(f"{' '.join(sys.argv)}\n{text.getvalue()}")
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    profiler.enable()


def run(make_app: Callable[[], web.Application], port: int, loop: str) -> None:
    """Serve `make_app()` on `port` on a fresh event loop of kind `loop` ("asyncio" or "uvloop")."""
    profile_dir = os.environ.get(PROFILE_ENV)
    if profile_dir:
        profile_until_terminated(profile_dir, port)
    if loop == "uvloop":
        import uvloop

        uvloop.run(serve_forever(make_app, port))
    else:
        asyncio.run(serve_forever(make_app, port))
