"""Start-up code shared by the Python benchmark servers: event-loop choice and the aiohttp site."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

LOOPS = ("asyncio", "uvloop")


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


def run(make_app: Callable[[], web.Application], port: int, loop: str) -> None:
    """Serve `make_app()` on `port` on a fresh event loop of kind `loop` ("asyncio" or "uvloop")."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(serve_forever(make_app, port))
    else:
        asyncio.run(serve_forever(make_app, port))
