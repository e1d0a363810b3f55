"""A worker's drain and its aiohttp shutdown share ``--shutdown-timeout`` (the supervisor kills a
worker that overstays it, skipping its cleanup)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from aiosio.cli.runner import serve_app

pytestmark = pytest.mark.timeout(30)


async def test_handlers_get_what_the_drain_left_of_the_shutdown_timeout() -> None:
    app = web.Application()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="late")

    app.router.add_get("/slow", slow)
    stop = asyncio.Event()
    urls: list[str] = []

    async def drain(runner: web.AppRunner, site: web.BaseSite) -> None:
        await asyncio.sleep(1.5)  # closing the sessions, waiting for farewells

    serving = asyncio.ensure_future(
        serve_app(
            app, host="127.0.0.1", port=0, announce=urls.append, shutdown_timeout=2.0, stop=stop, drain=drain
        )
    )
    while not urls:
        await asyncio.sleep(0.02)
    async with aiohttp.ClientSession() as client:
        request = asyncio.ensure_future(client.get(urls[0].rstrip("/") + "/slow"))
        await asyncio.sleep(0.2)  # the request is being handled
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(serving, 10)
        took = time.monotonic() - started
        request.cancel()
        with pytest.raises((asyncio.CancelledError, aiohttp.ClientError)):
            await request
    assert 1.4 < took < 2.8  # 1.5 s drain + 0.5 s for the handler (not another 2 s)
