"""Memory an idle WebSocket connection keeps alive in the server, measured with tracemalloc.

The server runs in this process; 200 raw WebSocket clients (aiohttp, each connected to "/" at the
Socket.IO level) run in a child process, so only the server's allocations are traced. The bound
is what a connection may keep: aiosio's own objects plus aiohttp's (its request, tasks, WebSocket
reader and writer), after aiosio released the HTTP-side objects aiohttp keeps for no use
(:mod:`aiosio.transport.aiohttp_compat`): about 12.7 KiB on CPython 3.11 with aiohttp 3.14, 15.8
without the release.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web

import aiosio

from .conftest import STEP

#: Connections measured (enough that a few stray allocations of the test process do not matter).
N = 200

#: KiB per idle connection the server may keep (measured 12.71 three times in a row with aiohttp
#: 3.14.5, the 101's headers kept; 15.8 without the release): a regression of 0.8 KiB fails.
BOUND_KIB = 13.5

_CLIENTS = r"""
import asyncio, sys, aiohttp
async def main(url, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one():
            ws = await http.ws_connect(url)
            assert (await ws.receive_str()).startswith("0{")
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40{")
            return ws
        for ws in [await one() for _ in range(5)]:  # warm-up: first-use caches of both sides
            await ws.close()
        print("warm", flush=True)
        sys.stdin.readline()
        clients = await asyncio.gather(*(one() for _ in range(n)))
        print("open", flush=True)
        sys.stdin.readline()
        for ws in clients:
            await ws.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_idle_websocket_memory_per_connection() -> None:
    """The benchmark's server shape: an echo handler, no connect handler reading the environ."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def echo(sid: str, data: object) -> object:
        return data

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        per_conn = await _measure(sio, f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await sio.shutdown()
        await runner.cleanup()
    assert per_conn < BOUND_KIB, f"{per_conn:.2f} KiB per idle WebSocket connection"


async def _measure(sio: aiosio.AsyncServer, origin: str) -> float:
    """KiB the server's allocations grew by per connection while N clients connected."""
    url = f"{origin}/socket.io/?EIO=4&transport=websocket"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CLIENTS, url, str(N),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(6 * STEP):
            assert await proc.stdout.readline() == b"warm\n"
            await asyncio.sleep(0.2)
            gc.collect()
            tracemalloc.start(1)
            try:
                before = tracemalloc.take_snapshot()
                proc.stdin.write(b"\n")
                assert await proc.stdout.readline() == b"open\n"
                while len(sio.eio.core.sessions) < N:  # pragma: no cover - the replies came first
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                gc.collect()
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
            per_conn = sum(s.size_diff for s in after.compare_to(before, "filename")) / N / 1024
            proc.stdin.write(b"\n")
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return per_conn


async def test_environ_built_after_the_release_is_complete(serve: Any) -> None:
    """The environ, built lazily long after aiohttp's HTTP-side objects were released, still has
    every header, the query, the peer and a working ``aiohttp.request``."""
    sio = aiosio.AsyncServer()
    seen: asyncio.Future[tuple[dict[str, object], object]] = asyncio.get_running_loop().create_future()

    @sio.event
    async def look(sid: str) -> None:
        environ = sio.get_environ(sid)
        assert environ is not None
        request = environ["aiohttp.request"]
        assert isinstance(request, web.BaseRequest)
        seen.set_result((environ, getattr(request.protocol, "_parser", "missing")))

    handle = await serve(sio)
    port = handle.port
    url = handle.endpoint + "?EIO=4&transport=websocket&room=lobby"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"X-Thing": "yes"}) as ws:
        assert (await ws.receive_str(timeout=STEP)).startswith("0{")
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=STEP)).startswith("40{")
        await ws.send_str('42["look"]')
        environ, parser = await asyncio.wait_for(seen, STEP)
    assert parser is None  # released: the environ below was built after that
    assert environ["HTTP_X_THING"] == "yes"
    assert environ["HTTP_UPGRADE"] == "websocket"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert environ["REMOTE_ADDR"] == "127.0.0.1" and environ["REMOTE_PORT"]
    assert environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == "/socket.io/"
    assert "room=lobby" in str(environ["QUERY_STRING"])
    request = environ["aiohttp.request"]
    assert isinstance(request, web.BaseRequest)
    assert request.query["room"] == "lobby" and request.headers["X-Thing"] == "yes"
