"""What a failed, cancelled or interrupted connect leaves behind (nothing), and errors while closing."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from aiohttp import web

import aiosio
from aiosio import exceptions
from aiosio.testing import TestClient, TestServer

TRANSPORTS = pytest.mark.parametrize("transport", ["websocket", "polling"])


def blocked_connect_server() -> tuple[aiosio.AsyncServer, asyncio.Event]:
    sio = aiosio.AsyncServer()
    release = asyncio.Event()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await release.wait()

    return sio, release


@pytest.mark.parametrize("namespaces", [[], "chat", ["/", "x"], [None]])
async def test_bad_namespaces_are_a_value_error_before_anything_opens(namespaces: Any) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        client = server.client()
        with pytest.raises(ValueError, match="namespace"):
            await client.connect(namespaces)
        assert sio.eio.sockets == {}
        await client.connect()  # and the client is still usable
        assert client.connected


@TRANSPORTS
async def test_an_auth_the_serializer_cannot_encode_opens_nothing(transport: str) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        with pytest.raises(TypeError):
            await client.connect(auth={1, 2})
        assert sio.eio.sockets == {} and not client.connected
        await client.connect()
        assert client.connected


@TRANSPORTS
async def test_a_cancelled_connect_closes_its_session(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    sio, release = blocked_connect_server()
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.connect(), 0.1)
        assert sio.eio.sockets == {} and not client.connected and client._joins == {}
        release.set()
        await client.connect()  # not "Already connected"
        assert client.connected
    # Nothing failed later unretrieved (the old joins).
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


@TRANSPORTS
async def test_disconnect_during_connect_says_so(transport: str) -> None:
    sio, release = blocked_connect_server()
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        task = asyncio.create_task(client.connect(wait_timeout=5))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await client.disconnect(wait=False)
        with pytest.raises(exceptions.ConnectionError, match="Disconnected while connecting"):
            await task
        assert time.monotonic() - started < 2
        assert sio.eio.sockets == {}
        release.set()


async def test_wait_timeout_bounds_the_handshake_too() -> None:
    # An adapter whose init never ends (a Redis that does not answer): the handshake waits for it.
    sio = aiosio.AsyncServer()
    never = asyncio.Event()

    async def init(host: Any) -> None:
        await never.wait()

    sio._adapter.init = init  # type: ignore[method-assign]
    client = TestClient(sio)
    started = time.monotonic()
    with pytest.raises(exceptions.ConnectionError, match=r"Timed out after 0.3s opening the connection"):
        await client.connect(wait_timeout=0.3)
    assert time.monotonic() - started < 2
    assert sio.eio.sockets == {}
    await sio.shutdown()


async def test_close_stops_its_tasks_even_if_waiting_fails() -> None:
    sio = aiosio.AsyncServer()
    forever = asyncio.Event()

    @sio.event
    async def stuck(sid: str) -> None:
        await forever.wait()

    async with TestServer(sio) as server:
        client = server.client()
        started = asyncio.Event()

        @client.on("ping_me")
        async def ping_me() -> None:
            started.set()
            await asyncio.sleep(3600)

        await client.connect()
        await client.emit("stuck")
        await sio.emit("ping_me", to=client.sid)
        await started.wait()
        with pytest.raises(exceptions.TimeoutError, match="still runs 1 handler"):
            await client.close(timeout=0.1)
        assert client._tasks == set() and client._link is not None and client._link._reader is None
        forever.set()


async def test_server_stop_closes_every_client_even_when_one_fails() -> None:
    sio = aiosio.AsyncServer()
    server = TestServer(sio)
    await server.start()
    first = await server.connect()
    second = await server.connect()

    async def broken_close() -> None:
        raise RuntimeError("close failed")

    first.close = broken_close  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="close failed"):
        await server.stop()
    assert second._link is not None and second._link._reader is None  # the second was still closed


async def test_a_failed_app_startup_is_undone() -> None:
    sio = aiosio.AsyncServer()
    app = web.Application()
    sio.attach(app)
    cleaned: list[str] = []

    async def context(_app: web.Application) -> Any:
        yield
        cleaned.append("context")

    async def boom(_app: web.Application) -> None:
        raise RuntimeError("startup failed")

    app.cleanup_ctx.append(context)
    app.on_startup.append(boom)
    server = TestServer(sio, app=app)
    with pytest.raises(RuntimeError, match="startup failed"):
        await server.start()
    assert cleaned == ["context"] and server._runner is None


@pytest.mark.allow_server_errors(r"aiosio\.testing ERROR: the test client's callback of 'double' failed")
async def test_a_failing_emit_callback_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    sio = aiosio.AsyncServer()
    sio.on("double", lambda sid, x: 2 * x)
    async with TestServer(sio) as server:
        client = await server.connect()
        got: list[int] = []

        def callback(value: int) -> None:
            got.append(value)
            raise ValueError("callback bug")

        with caplog.at_level(logging.ERROR, logger="aiosio.testing"):
            await client.emit("double", 2, callback=callback)
            await client.wait_idle()
            await asyncio.sleep(0.01)
        assert got == [4]
    failed = [r for r in caplog.records if r.name == "aiosio.testing"]
    assert len(failed) == 1 and failed[0].getMessage() == "the test client's callback of 'double' failed"
    assert failed[0].exc_info is not None
    assert not [r for r in caplog.records if r.name == "asyncio"]


@TRANSPORTS
async def test_an_answer_after_the_server_left_is_dropped_quietly(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        release = asyncio.Event()

        @client.on("ask")
        async def ask() -> str:
            await release.wait()
            return "late"

        await client.connect()
        call = asyncio.create_task(sio.call("ask", to=client.sid, timeout=1))
        await asyncio.sleep(0.05)
        await sio.disconnect(client.sid)
        await asyncio.sleep(0.02)
        release.set()
        await asyncio.sleep(0.05)
        with pytest.raises(exceptions.SocketIOError):
            await call
        assert client._tasks == set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
