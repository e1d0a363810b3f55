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

from .support import WithMetrics, absent, parse, scrape, until, value

pytestmark = pytest.mark.timeout(60)


def sio_samples(sio: Any) -> dict[Any, float]:
    """The samples of ``sio``'s metrics now (no HTTP round trip: for polling in ``until``)."""
    (observer,) = (o for o in sio.observers if getattr(o, "metrics", None) is not None)
    return parse(observer.metrics.render().decode())


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
    assert value(await scrape(handle_b.url + "/metrics"), "aiosio_cluster_up") == 1
    assert value(before_a, "aiosio_cluster_up") == 1

    async def both_hear() -> None:  # the servers may still be joining the cluster
        while not got:
            await sio_a.emit("news", "hi", to="room")
            await asyncio.sleep(0.1)

    await asyncio.wait_for(both_hear(), 10)

    def counts() -> tuple[float, float, float]:
        a, b = sio_samples(sio_a), sio_samples(sio_b)
        return (
            value(a, "aiosio_cluster_published_total"),
            value(a, "aiosio_cluster_received_total"),
            value(b, "aiosio_cluster_received_total"),
        )

    await asyncio.sleep(0.3)  # the warm-up's last broadcasts through (they take a millisecond)
    published0, echoed0, received0 = counts()
    sent = len(got)
    for _ in range(5):
        await sio_a.emit("news", "hi", to="room")
    await until(lambda: len(got) == sent + 5 and counts()[2] == received0 + 5)
    a = await scrape(handle_a.url + "/metrics")
    b = await scrape(handle_b.url + "/metrics")
    published, _, received = counts()
    assert published - published0 == 5
    assert received - received0 == 5
    # Classic pub/sub: a node hears its own broadcasts too (received counts them, the adapter
    # skips them); sharded: its own are not delivered back.
    await asyncio.sleep(0.2)
    assert counts()[1] == echoed0 + (5 if mode == "classic" else 0)
    assert value(a, "aiosio_cluster_dropped_total") == 0
    assert value(b, "aiosio_cluster_rejected_total") == 0
    assert value(a, "aiosio_cluster_pending_messages") == 0
    lag = value(a, "aiosio_cluster_publish_lag_seconds")
    assert 0 < lag <= value(a, "aiosio_cluster_publish_lag_max_seconds") < 5
    # B delivered every broadcast A published to its one socket in the room; A, with nobody in
    # the room, counts no emit (one reaching nobody here is not an emit of this node's).
    assert value(b, "aiosio_emit_recipients_total", namespace="/") == len(got)
    assert value(b, "aiosio_emits_total", namespace="/") == len(got)
    assert absent(a, "aiosio_emits_total", namespace="/")
    assert value(a, "aiosio_cluster_oldest_pending_age_seconds") == 0
    await client.disconnect()


async def test_oldest_pending_age_grows_while_redis_is_away(redis_server: RedisServer, serve: Any) -> None:
    """publish_lag moves only when a batch completes; the oldest pending age shows a stuck queue."""
    sio = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url))
    await serve(WithMetrics(sio))
    await until(lambda: value(sio_samples(sio), "aiosio_cluster_up") == 1)
    await sio.emit("news", "before")
    await until(lambda: value(sio_samples(sio), "aiosio_cluster_published_total") >= 1)
    lag = value(sio_samples(sio), "aiosio_cluster_publish_lag_seconds")
    redis_server.kill()
    await until(lambda: value(sio_samples(sio), "aiosio_cluster_up") == 0)
    await sio.emit("news", "stuck")
    await asyncio.sleep(0.5)
    samples = sio_samples(sio)
    assert value(samples, "aiosio_cluster_pending_messages") >= 1
    assert value(samples, "aiosio_cluster_oldest_pending_age_seconds") >= 0.4
    assert value(samples, "aiosio_cluster_publish_lag_seconds") == lag
