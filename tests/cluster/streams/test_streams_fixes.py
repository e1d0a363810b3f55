"""Review fixes of the Redis Streams recovery store: the restore's read of a session is ordered
after this node's queued session writes, a session not taken up is written back, concurrent
restores share the pool without failing, room changes of many sockets do not flood the queue,
and more (one test per finding, each failing without its fix)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio.adapters.redis.streams import StreamsDriver
from aiosio.recovery.redis_streams import RedisStreamsStore
from aiosio.recovery.store import SessionState

from .conftest import Names

pytestmark = pytest.mark.timeout(60)

SID = "S" * 20
PID = "P" * 20


async def node(
    serve: Any, url: str, names: Names, **recovery: Any
) -> tuple[aiosio.AsyncServer, StreamsDriver, RedisStreamsStore]:
    sio = aiosio.AsyncServer(client_manager=names.manager(url), connection_state_recovery=recovery or True)
    await serve(sio)
    driver = sio.manager.adapter.driver  # type: ignore[attr-defined]
    assert isinstance(driver, StreamsDriver)
    async with asyncio.timeout(5):
        while names.stream not in driver.read_position:
            await asyncio.sleep(0.01)
    store = sio._recovery
    assert isinstance(store, RedisStreamsStore)
    return sio, driver, store


async def test_a_restore_reads_the_session_after_this_nodes_queued_writes(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """A backlog of writes in the queue, then the socket's last room change and its persist: the
    restore sees that last state, and no queued SET re-creates the key after its GET/DEL."""
    _sio, driver, store = await node(serve, redis_server.url, names)
    start = store.position()
    store.save_session(SessionState(SID, PID, "/", (SID,), {"v": 1}, start))
    await asyncio.sleep(0.2)
    for _ in range(3000):  # a busy node: broadcasts of another namespace queued
        driver.link.command(
            "XADD", names.stream, "MAXLEN", "~", 10_000, "*", "uid", driver.uid, "nsp", "/x", "type", "3",
            "data", "{}" + "x" * 300,
        )  # fmt: skip
    last = SessionState(SID, PID, "/", (SID, "r2"), {"v": 2}, start)
    store.save_session(last)
    store.persist(last)
    restored = await store.restore("/", PID, None)
    assert restored is not None
    assert restored.session.rooms == (SID, "r2") and restored.session.data == {"v": 2}
    await asyncio.sleep(0.5)
    assert redis_server.client().get(names.sessions + PID) is None
