"""The cluster adapter's counts in ``/metrics``: two aiosio servers on one real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiosio
from cluster.redis_fixtures import RedisServer, running_redis
from peers import require_executable

from .support import WithMetrics, scrape, until, value

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh standalone redis-server (SIGKILLed by pid at teardown)."""
    with running_redis(require_executable("redis-server"), tmp_path) as server:
        yield server


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_publish_and_receive_counts(redis_server: RedisServer, serve: Any, mode: str) -> None:
    sio_a = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url, mode=mode))
    sio_b = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url, mode=mode))
    handle_a = await serve(WithMetrics(sio_a))
    handle_b = await serve(WithMetrics(sio_b))

    @sio_b.event
    async def join(sid: str, room: str) -> bool:
        await sio_b.enter_room(sid, room)
        return True

    client = aiosio.AsyncClient()
    got: list[Any] = []
    client.on("news", got.append)
    await client.connect(handle_b.url, transports=["websocket"])
    assert await client.call("join", "room") is True
    before_a = await scrape(handle_a.url + "/metrics")
    before_b = await scrape(handle_b.url + "/metrics")
    assert value(before_a, "aiosio_cluster_up") == 1

    async def both_hear() -> None:  # the servers may still be joining the cluster
        while not got:
            await sio_a.emit("news", "hi", to="room")
            await asyncio.sleep(0.1)

    await asyncio.wait_for(both_hear(), 10)
    sent = len(got)
    for _ in range(5):
        await sio_a.emit("news", "hi", to="room")
    await until(lambda: len(got) == sent + 5)
    a = await scrape(handle_a.url + "/metrics")
    b = await scrape(handle_b.url + "/metrics")
    published = value(a, "aiosio_cluster_published_total") - value(before_a, "aiosio_cluster_published_total")
    received = value(b, "aiosio_cluster_received_total") - value(before_b, "aiosio_cluster_received_total")
    assert published >= 5 + 1
    assert received >= 5 + 1
    assert value(a, "aiosio_cluster_dropped_total") == 0
    assert value(b, "aiosio_cluster_rejected_total") == 0
    assert value(a, "aiosio_cluster_pending_messages") == 0
    lag = value(a, "aiosio_cluster_publish_lag_seconds")
    assert 0 < lag <= value(a, "aiosio_cluster_publish_lag_max_seconds") < 5
    # B delivered every broadcast A published to its one socket in the room.
    assert value(b, "aiosio_emit_recipients_total", namespace="/") >= 6
    await client.disconnect()
