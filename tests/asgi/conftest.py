"""Fixtures for the ASGI tests: aiosio servers under a real uvicorn, in this process or as a program.

``serve`` has the signature of the root conftest's (``handle = await serve(sio, **attach_kwargs)``)
but runs ``aiosio.ASGIApp(sio)`` under uvicorn on a random port, so the existing protocol and
interop tests can be run against ASGI unchanged (``load_tests``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from asgi_support import UvicornHandle, start_uvicorn, stop_uvicorn
from node_driver import MODES, NodeDriver

import aiosio
from peers import require_node


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[UvicornHandle]]]:
    """``handle = await serve(sio, socketio_path=... | engineio_path=...)``: ``aiosio.ASGIApp(sio)``
    under uvicorn. At teardown each server is shut down, then uvicorn stops."""
    handles: list[UvicornHandle] = []

    async def _serve(server: Any, **attach_kwargs: Any) -> UvicornHandle:
        path = str(
            attach_kwargs.get("socketio_path") or attach_kwargs.get("engineio_path") or "socket.io"
        ).strip("/")
        asgi = aiosio.ASGIApp(server, socketio_path=path)
        holder: dict[str, UvicornHandle] = {}

        async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                query = scope.get("query_string", b"").decode()
                opening = (
                    b"sid=" not in scope.get("query_string", b"") and scope.get("method", "GET") == "GET"
                )
                if opening and scope["path"].strip("/") == path:
                    holder["handle"].handshakes += 1
                status = [0]

                async def watch(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        status[0] = message["status"]
                    await send(message)

                await asgi(scope, receive, watch)
                holder["handle"].requests.append((scope.get("method", "GET"), query, status[0]))
                return
            await asgi(scope, receive, send)

        uv, task, port = await start_uvicorn(counting)
        handle = UvicornHandle(server=server, app=asgi, uvicorn=uv, task=task, port=port, path=path)
        holder["handle"] = handle
        handles.append(handle)
        return handle

    yield _serve

    for handle in reversed(handles):
        await asyncio.wait_for(handle.server.shutdown(), 5)
        await stop_uvicorn(handle.uvicorn, handle.task)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp client session (for Engine.IO-level HTTP and WebSocket requests)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def node() -> AsyncIterator[NodeDriver]:
    """A running Node driver for the npm socket.io-client (tests/interop/node_driver.py)."""
    require_node()
    driver = await NodeDriver.start(watchdog=60)
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """Transport mode: ``websocket``, ``polling`` or ``upgrade`` (polling then websocket)."""
    return str(request.param)
