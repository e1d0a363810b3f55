"""aiosio.testing with the Redis adapter: two in-process servers sharing one real redis-server.

The test clients are in-process, the adapter is not: each server's AsyncRedisManager talks to a
real redis-server (tests/cluster's runner, stopped by pid), so rooms, broadcasts, remote room
changes, fetch_sockets and remote disconnects cross servers exactly as in production.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiosio
from aiosio.testing import TestClient, TestServer
from cluster.redis_fixtures import RedisServer, running_redis
from peers import require_executable


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server for this module (SIGKILLed by pid at teardown)."""
    directory: Path = tmp_path_factory.mktemp("redis")
    server: RedisServer
    with running_redis(require_executable("redis-server"), directory) as server:
        yield server.url


def node(url: str, channel: str, mode: str, log: list[tuple[str, str, str]]) -> aiosio.AsyncServer:
    manager = aiosio.AsyncRedisManager(url, channel=channel, mode=mode)  # type: ignore[arg-type]
    sio = aiosio.AsyncServer(client_manager=manager)

    @sio.event
    async def join(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)

    @sio.event
    async def say(sid: str, room: str, text: str) -> None:
        await sio.emit("said", text, room=room)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        log.append((channel, sid, reason))

    return sio


async def until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_rooms_and_broadcasts_cross_two_servers(redis_url: str, mode: str) -> None:
    channel = f"testing-{uuid.uuid4().hex[:8]}"
    log: list[tuple[str, str, str]] = []
    sio_a, sio_b = node(redis_url, channel, mode, log), node(redis_url, channel, mode, log)
    async with TestServer(sio_a) as a, TestServer(sio_b) as b:
        alice = await a.connect()
        bob = await b.connect()
        carol = await b.connect()
        await alice.call("join", "red")
        await bob.call("join", "red")

        # An emit on one server reaches the room's members on both; not the others.
        await alice.emit("say", ("red", "hello"))
        assert (await alice.receive("said")).data == "hello"
        assert (await bob.receive("said")).data == "hello"
        await sio_b.emit("news", "from b")  # everyone, everywhere
        for client in (alice, bob, carol):
            assert (await client.receive("news")).data == "from b"
        await asyncio.sleep(0.1)
        assert not [r for r in carol.received if r.event == "said"]

        # Room changes and queries for sockets held by the other server.
        await sio_b.enter_room(alice.sid, "blue")  # alice is on server a
        await until(lambda: "blue" in sio_a.rooms(alice.sid))
        await sio_a.emit("paint", "blue", room="blue")
        assert (await alice.receive("paint")).data == "blue"
        sockets = await sio_b.fetch_sockets("red")
        assert sorted(s.sid for s in sockets) == sorted([alice.sid, bob.sid])

        # A disconnect asked on server b for a socket of server a.
        sid = alice.sid
        await sio_b.disconnect(sid)
        await until(lambda: not alice.connected)
        assert alice.disconnect_reason == "server disconnect"
        await until(lambda: bool(log))
        assert log == [(channel, sid, "server disconnect")]


async def test_a_client_connecting_before_the_adapter_is_ready_waits_for_it(redis_url: str) -> None:
    channel = f"testing-{uuid.uuid4().hex[:8]}"
    sio = node(redis_url, channel, "classic", [])
    # No TestServer: the first connection starts the adapter, as the first request would.
    client = TestClient(sio)
    try:
        await client.connect()
        other = node(redis_url, channel, "classic", [])
        async with TestServer(other):
            await other.emit("hi", 1)
            assert (await client.receive("hi")).data == 1
    finally:
        await client.close()
        await sio.shutdown()


def test_a_redis_server_reused_by_tests_on_new_loops_is_told_why_not(redis_url: str) -> None:
    """One module-level server with a Redis adapter used by tests on new loops: a Redis adapter
    does not start again once closed, nor on another loop, and each case says so."""
    channel = f"reuse-{uuid.uuid4().hex}"
    sio = node(redis_url, channel, "classic", [])
    other = node(redis_url, channel, "classic", [])

    async def served() -> None:
        async with TestServer(sio) as server:
            assert (await server.connect()).connected

    async def served_again() -> None:
        with pytest.raises(RuntimeError, match="does not start again once closed"):
            await TestServer(sio).start()

    async def left_running() -> None:
        await TestServer(other).start()  # never stopped: its Redis connections die with this loop

    async def connected_on_a_new_loop() -> None:
        with pytest.raises(RuntimeError, match="adapter was started on another event loop"):
            await aiosio.testing.connect(other)

    for step in (served, served_again, left_running, connected_on_a_new_loop):
        asyncio.run(step())
