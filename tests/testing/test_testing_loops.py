"""Event loops: the fixtures under any loop-scope setting, and one module-level server reused by
several tests (each with its own loop), as apps written for python-socketio do it."""

from __future__ import annotations

import asyncio
import threading

import pytest

import aiosio
from aiosio.testing import TestServer

pytest_plugins = ["pytester"]

REUSED = """
import asyncio
import pytest
import aiosio

# Module-level servers, as python-socketio's documentation has them: each test has its own loop.
sio = aiosio.AsyncServer(ping_interval=0.2, ping_timeout=0.2)
sio.on("double", lambda sid, x: 2 * x)
bare = aiosio.AsyncServer(ping_interval=0.2, ping_timeout=0.2)
bare.on("double", lambda sid, x: 2 * x)


async def test_served_once(aiosio_test_server, aiosio_test_client):
    client = await aiosio_test_client(await aiosio_test_server(sio))
    assert await client.call("double", 1) == 2


async def test_served_again_on_a_new_loop(aiosio_test_server, aiosio_test_client):
    # Stopped (shut down) by the last test, on a loop that is closed now.
    client = await aiosio_test_client(await aiosio_test_server(sio))
    assert await client.call("double", 2) == 4
    await asyncio.sleep(0.6)  # heartbeats: the engine's timers run on this loop
    assert client.connected


async def test_bare_once(aiosio_test_client):
    client = await aiosio_test_client(bare)
    assert await client.call("double", 3) == 6


async def test_bare_again_on_a_new_loop(aiosio_test_client):
    client = await aiosio_test_client(bare)
    assert await client.call("double", 4) == 8
    await asyncio.sleep(0.6)
    assert client.connected


@pytest.mark.asyncio(loop_scope="module")
async def test_a_wider_loop_is_told_not_hung(aiosio_test_server, aiosio_test_client):
    with pytest.raises(RuntimeError, match="function-scoped event loop"):
        await aiosio_test_server(aiosio.AsyncServer())
    with pytest.raises(RuntimeError, match="function-scoped event loop"):
        await aiosio_test_client(aiosio.AsyncServer())
"""


def test_fixtures_under_a_session_default_fixture_loop_scope(pytester: pytest.Pytester) -> None:
    # The widest default: the fixtures still take the test's own loop. (The project's own setting,
    # "function", is the rest of this suite's.)
    pytester.makepyfile(test_app=REUSED)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=session",
        "-o",
        "timeout=60",
    )
    result.assert_outcomes(passed=5)


def test_connections_left_on_a_finished_loop_are_named() -> None:
    sio = aiosio.AsyncServer()

    async def leave_one_open() -> None:
        await aiosio.testing.connect(sio)  # never disconnected: the loop ends under it

    async def connect_again() -> None:
        with pytest.raises(RuntimeError, match=r"still has 1 connection\(s\) on another event loop"):
            await aiosio.testing.connect(sio)

    def run() -> None:  # asyncio.run needs a thread without a running loop
        asyncio.run(leave_one_open())
        asyncio.run(connect_again())

    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and not failure, failure


async def test_a_stopped_test_server_starts_again_on_the_same_loop() -> None:
    sio = aiosio.AsyncServer()
    sio.on("double", lambda sid, x: 2 * x)
    for n in range(2):
        async with TestServer(sio) as server:
            client = await server.connect()
            assert await client.call("double", n) == 2 * n
        assert not client.connected and client.disconnect_reason == "transport close"
