"""The streams driver through a Redis restart: the stream readers, the pub/sub connection and the
write queue all come back, and broadcasts (stream entries) and server-side calls (pub/sub) flow
between two aiosio nodes again. A module of its own: it restarts this module's redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from cluster.redis_fixtures import RedisServer

from .conftest import Names

pytestmark = pytest.mark.timeout(60)


async def test_readers_and_pubsub_come_back_after_redis_restarts(
    serve: Any, redis_server: RedisServer, names: Names
) -> None:
    nodes = []
    for _ in range(2):
        sio = aiosio.AsyncServer(client_manager=names.manager(redis_server.url))
        sio.on_server_event("ping", lambda *args: "pong")
        nodes.append((sio, await serve(sio)))
    (a, _), (_b, b_handle) = nodes
    client = aiosio.AsyncClient()
    got: list[Any] = []
    client.on("n", got.append)
    await client.connect(b_handle.url, transports=["websocket"])
    await a.emit("n", 1)
    async with asyncio.timeout(5):
        while got != [1]:
            await asyncio.sleep(0.01)
    await redis_server.restart_async()
    async with asyncio.timeout(20):
        while True:  # until a's entries reach b's reader again (both reconnected with backoff)
            await a.emit("n", 2)
            await asyncio.sleep(0.2)
            if 2 in got:
                break
    async with asyncio.timeout(20):
        while list(await a.server_side_call("ping", timeout=1)) != ["pong"]:
            await asyncio.sleep(0.1)
    await client.disconnect()


async def test_with_recovery_an_emit_fails_clearly_while_redis_is_away(
    serve: Any, redis_server: RedisServer, names: Names
) -> None:
    """With recovery on, an emit waits for its entry id; while Redis is away it raises
    ConnectionError after the driver's ``log_timeout`` (no hang), and works again once Redis is
    back."""
    sio = aiosio.AsyncServer(client_manager=names.manager(redis_server.url), connection_state_recovery=True)
    await serve(sio)
    sio.manager.adapter.driver.log_timeout = 0.5  # type: ignore[attr-defined]
    await sio.emit("n", 1)
    await asyncio.to_thread(redis_server.kill)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionError, match=r"did not confirm the broadcast|round trip to Redis failed"):
        await sio.emit("n", 2)
    assert loop.time() - started < 3
    await asyncio.to_thread(redis_server.start)
    async with asyncio.timeout(20):
        while True:
            try:
                await sio.emit("n", 3)
                break
            except ConnectionError:
                await asyncio.sleep(0.1)
