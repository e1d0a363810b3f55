"""The Redis Streams recovery store and driver on a real Redis, entries written by a raw client
(standing in for another node): the restore waits for this node's reader to reach the client's
offset, replays what follows in order with the entry ids, restores a client that never got an
offset from its session's start, refuses bad offsets and hostile sessions cleanly, and a stream
with 0.2.x heartbeat entries is reported."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
from aiosio.adapters.redis.streams import StreamsDriver
from aiosio.protocol.cluster import (
    ClusterBroadcast,
    WireOpts,
    WirePacket,
    WireSession,
    encode_entry,
    encode_session,
    stream_id_key,
)
from aiosio.recovery.redis_streams import RedisStreamsStore
from cluster.redis_fixtures import RedisServer

from .conftest import Names

pytestmark = pytest.mark.timeout(30)

SID = "XzlcVt-L5qyLdsegAAAA"
PID = "rTNlFXCyKqoK6S2KAAAB"


async def node(
    serve: Any, redis_server: RedisServer, names: Names
) -> tuple[aiosio.AsyncServer, StreamsDriver]:
    sio = aiosio.AsyncServer(client_manager=names.manager(redis_server.url), connection_state_recovery=True)
    await serve(sio)
    driver = sio.manager.adapter.driver  # type: ignore[attr-defined]
    assert isinstance(driver, StreamsDriver)
    async with asyncio.timeout(5):
        while names.stream not in driver.read_position:
            await asyncio.sleep(0.01)
    return sio, driver


def xadd(redis_server: RedisServer, names: Names, event: str, *args: Any, rooms: tuple[str, ...] = ()) -> str:
    """Append a broadcast as another node (uid ``other``) would; its entry id."""
    message = ClusterBroadcast(
        "0123456789abcdef", "/", WirePacket("/", [event, *args]), WireOpts(rooms, (), {})
    )
    client = redis_server.client()
    entry_id = client.xadd(names.stream, dict(encode_entry(message)))
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def store_session(redis_server: RedisServer, names: Names, start: str | None = None) -> None:
    value = encode_session(WireSession(SID, PID, (SID, "r1"), {"n": 1}, start))
    redis_server.client().set(names.sessions + PID, value, px=60_000)


def events(restored: Any) -> list[bytes]:
    return [
        b"".join(f.payload if isinstance(f.payload, bytes) else f.payload.encode() for f in frames)
        for frames in restored.missed
    ]


class Lagging(dict[str, tuple[int, int]]):
    """The driver's read positions, held back until released: a reader that lags behind."""

    def __init__(self, initial: dict[str, tuple[int, int]]) -> None:
        super().__init__(initial)
        self.held: dict[str, tuple[int, int]] | None = {}

    def __setitem__(self, key: str, value: tuple[int, int]) -> None:
        if self.held is not None:
            self.held[key] = value
        else:
            super().__setitem__(key, value)

    def release(self) -> None:
        held, self.held = self.held or {}, None
        for key, value in held.items():
            super().__setitem__(key, value)


async def test_restore_waits_for_the_reader_and_replays_what_follows(
    serve: Any, redis_server: RedisServer, names: Names
) -> None:
    sio, driver = await node(serve, redis_server, names)
    store = sio._recovery
    assert isinstance(store, RedisStreamsStore)
    store_session(redis_server, names)
    lagging = driver.read_position = Lagging(driver.read_position)
    first = xadd(redis_server, names, "n", 1, rooms=("r1",))  # the client got this one elsewhere
    second = xadd(redis_server, names, "n", 2, rooms=("r1",))
    xadd(redis_server, names, "n", 3, rooms=("r2",))  # not its room
    task = asyncio.ensure_future(store.restore("/", PID, first))
    await asyncio.sleep(0.3)
    assert not task.done()  # this node has not read the client's offset yet: it waits
    lagging.release()
    driver._wake_readers(names.stream)
    restored = await task
    assert restored is not None
    assert driver.read_position[names.stream] >= stream_id_key(second)
    assert events(restored) == [f'42["n",2,"{second}"]'.encode()]
    assert restored.session.sid == SID and restored.session.rooms == (SID, "r1")
    assert restored.session.data == {"n": 1}
    assert redis_server.client().get(names.sessions + PID) is None  # GETDEL


async def test_a_client_without_offset_recovers_from_its_session_start(
    serve: Any, redis_server: RedisServer, names: Names
) -> None:
    sio, driver = await node(serve, redis_server, names)
    store = sio._recovery
    assert isinstance(store, RedisStreamsStore)
    before = xadd(redis_server, names, "n", 0)
    async with asyncio.timeout(5):
        while driver.read_position[names.stream] < stream_id_key(before):
            await asyncio.sleep(0.01)
    start = store.position()
    assert start == before
    store_session(redis_server, names, start=start)
    missed = xadd(redis_server, names, "n", 1)
    async with asyncio.timeout(5):
        while driver.read_position[names.stream] < stream_id_key(missed):
            await asyncio.sleep(0.01)
    restored = await store.restore("/", PID, None)
    assert restored is not None and events(restored) == [f'42["n",1,"{missed}"]'.encode()]


@pytest.mark.parametrize("offset", ["plainstring", "1-2-3", "9" * 30 + "-0"])
async def test_bad_offsets_are_refused(
    serve: Any, redis_server: RedisServer, names: Names, offset: str
) -> None:
    sio, _driver = await node(serve, redis_server, names)
    store_session(redis_server, names)
    assert await sio._recovery.restore("/", PID, offset) is None  # type: ignore[union-attr]
    stats = sio.recovery_stats()
    assert stats is not None and stats.refused == 1


@pytest.mark.parametrize("value", [b"@@not base64@@", b"gqFhAQ==", b"kwECAw=="])
async def test_hostile_sessions_are_refused(
    serve: Any, redis_server: RedisServer, names: Names, value: bytes, caplog: Any
) -> None:
    sio, _driver = await node(serve, redis_server, names)
    first = xadd(redis_server, names, "n", 1)
    redis_server.client().set(names.sessions + PID, value, px=60_000)
    with caplog.at_level(logging.WARNING, logger="aiosio.recovery"):
        assert await sio._recovery.restore("/", PID, first) is None  # type: ignore[union-attr]
    assert "not valid" in caplog.text


async def test_heartbeats_of_0_2_nodes_are_reported(
    serve: Any, redis_server: RedisServer, names: Names, caplog: Any
) -> None:
    _sio, driver = await node(serve, redis_server, names)
    with caplog.at_level(logging.WARNING, logger="aiosio.adapters.redis"):
        redis_server.client().xadd(names.stream, {"uid": "old", "nsp": "/", "type": "2"})
        async with asyncio.timeout(5):
            while "0.2.x" not in caplog.text:
                await asyncio.sleep(0.01)
    assert driver._heartbeats_seen


async def test_hostile_stream_entries_are_dropped_and_counted(
    serve: Any, redis_server: RedisServer, names: Names, caplog: Any
) -> None:
    """Bad entries another process wrote are dropped (counted, logged), and the reader goes on."""
    _sio, driver = await node(serve, redis_server, names)
    redis = redis_server.client()
    for data in ("!!not base64!!", "{bad json", '{"packet":{"type":2,"data":5},"opts":{}}'):
        redis.xadd(names.stream, {"uid": "other", "nsp": "/", "type": "3", "data": data})
    redis.xadd(names.stream, {"uid": "other", "nsp": "/", "type": "x"})
    good = xadd(redis_server, names, "n", 1)
    with caplog.at_level(logging.WARNING, logger="aiosio.adapters.redis"):
        async with asyncio.timeout(5):
            while driver.read_position.get(names.stream, (0, 0)) < stream_id_key(good):
                await asyncio.sleep(0.01)
    assert driver.dropped.count == 4
    assert "dropped a cluster message" in caplog.text


async def test_an_offset_from_before_the_session_is_clamped_to_its_start(
    serve: Any, redis_server: RedisServer, names: Names
) -> None:
    """A client may still hold an offset of a previous session: nothing from before this session
    began is replayed."""
    sio, driver = await node(serve, redis_server, names)
    old = xadd(redis_server, names, "n", 0)
    start = xadd(redis_server, names, "n", 1)
    missed = xadd(redis_server, names, "n", 2)
    async with asyncio.timeout(5):
        while driver.read_position[names.stream] < stream_id_key(missed):
            await asyncio.sleep(0.01)
    store_session(redis_server, names, start=start)
    restored = await sio._recovery.restore("/", PID, old)  # type: ignore[union-attr]
    assert restored is not None and events(restored) == [f'42["n",2,"{missed}"]'.encode()]
