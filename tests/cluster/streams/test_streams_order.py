"""Local delivery on Redis Streams follows the stream's order, own broadcasts included, so a
restore (which reads up to what this node delivered) neither loses nor repeats a packet when
several nodes emit at once and a node's reader lags behind its own appends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import aiosio
from aiosio.adapters.redis.streams import StreamsDriver
from recovery.cutter import Cutter
from recovery.support import fast_client, until

from .conftest import Names
from .test_csr_nodes import Node, start_nodes
from .test_streams_store import xadd

pytestmark = pytest.mark.timeout(60)

CutterFactory = Callable[[int], Awaitable[Cutter]]


class SlowReaders:
    """Holds back the readers of chosen drivers: while ``held`` each batch waits; ``delay`` slows
    every batch down (a reader lagging behind its node's own appends)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.drivers: set[int] = set()
        self.open = asyncio.Event()
        self.open.set()
        self.delay = 0.0
        original = StreamsDriver._on_entries
        gate = self

        def on_entries(driver: StreamsDriver, stream: str, entries: Any) -> Any:
            if id(driver) not in gate.drivers:
                return original(driver, stream, entries)

            async def later() -> None:
                await gate.open.wait()
                if gate.delay:
                    await asyncio.sleep(gate.delay)
                rest = original(driver, stream, entries)
                if rest is not None:
                    await rest

            return later()

        monkeypatch.setattr(StreamsDriver, "_on_entries", on_entries)

    def slow(self, node: Node) -> None:
        self.drivers.add(id(node.sio.manager.adapter.driver))  # type: ignore[attr-defined]


def stream_values(redis_server: Any, names: Names) -> list[Any]:
    """The first argument of every broadcast in the stream, in the stream's order."""
    values = []
    for _id, fields in redis_server.client().xrange(names.stream):
        if fields[b"type"] == b"3":
            values.append(json.loads(fields[b"data"])["packet"]["data"][1])
    return values


async def joined_client(node: Node, url: str, **options: Any) -> tuple[aiosio.AsyncClient, list[Any], str]:
    """A fast-reconnecting client connected over WebSocket to ``url`` (``node``, or a relay in
    front of it), recording each ``n``'s first argument; returns once ``node`` put it in r1:
    (client, got, sid)."""
    client = fast_client(**options)
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args[0]))
    await client.connect(url, transports=["websocket"])
    sid = client.get_sid()
    assert sid is not None
    await until(lambda: node.sio.rooms(sid) == [sid, "r1"])
    return client, got, sid


async def test_a_foreign_entry_read_late_still_reaches_the_client_before_a_later_own_one(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another node's F is in the stream before this node's own O, and this node's reader is held:
    the emit of O waits for the reader (bounded), the client gets F then O, and a restore after a
    cut gives nothing again (its offset is O's, and F was delivered before it)."""
    gate = SlowReaders(monkeypatch)
    (a,) = await start_nodes(serve, redis_server.url, names, count=1)
    gate.slow(a)
    relay = await cutter(a.port)
    client, got, sid = await joined_client(a, relay.url)
    xadd(redis_server, names, "n", "E0", rooms=("r1",))
    await until(lambda: got == ["E0"])
    gate.open.clear()
    xadd(redis_server, names, "n", "F", rooms=("r1",))
    await asyncio.sleep(0.05)
    emit = asyncio.ensure_future(a.sio.emit("n", "O", to="r1"))
    await asyncio.sleep(0.3)
    assert not emit.done() and got == ["E0"]  # O waits for F to be handed over first
    gate.open.set()
    await emit
    await until(lambda: got == ["E0", "F", "O"])
    relay.cut()
    await until(lambda: len(a.connects) == 2 and client.connected)
    await asyncio.sleep(0.3)
    assert a.connects[1] == (sid, True)
    assert got == ["E0", "F", "O"]
    await client.disconnect()


async def test_a_restore_while_the_reader_lags_behind_own_appends_gives_each_packet_once(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is away; another node's F, then this node's O are appended while this node's
    reader is held; the client comes back (restore) before the reader catches up: F and O each
    reach it once, in the stream's order (the restore stops where this node's delivery is)."""
    gate = SlowReaders(monkeypatch)
    (a,) = await start_nodes(serve, redis_server.url, names, count=1)
    gate.slow(a)
    relay = await cutter(a.port)
    client, got, sid = await joined_client(a, relay.url, reconnection_delay=0.5, reconnection_delay_max=0.5)
    xadd(redis_server, names, "n", "E0", rooms=("r1",))
    await until(lambda: got == ["E0"])
    relay.cut()
    await asyncio.sleep(0.1)
    gate.open.clear()
    xadd(redis_server, names, "n", "F", rooms=("r1",))
    await asyncio.sleep(0.05)
    emit = asyncio.ensure_future(a.sio.emit("n", "O", to="r1"))
    await until(lambda: len(a.connects) == 2 and client.connected)
    await asyncio.sleep(0.1)
    gate.open.set()
    await emit
    await asyncio.sleep(0.5)
    assert a.connects[1] == (sid, True) and client.recovered
    assert got == ["E0", "F", "O"]
    await client.disconnect()


async def test_two_nodes_emitting_at_once_each_packet_once_in_stream_order(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two nodes emit 300 each to one room at once, node A's reader slowed down; the client is cut
    on A and recovers on B: it got every packet once, in the stream's order."""
    gate = SlowReaders(monkeypatch)
    a, b = await start_nodes(serve, redis_server.url, names)
    gate.slow(a)
    gate.delay = 0.002
    relay = await cutter(a.port)
    client, got, sid = await joined_client(a, relay.url)
    rounds = 300

    async def emit(node: aiosio.AsyncServer, tag: str) -> None:
        for i in range(rounds):
            await node.emit("n", f"{tag}{i}", to="r1")

    tasks = [asyncio.ensure_future(emit(a.sio, "A")), asyncio.ensure_future(emit(b.sio, "B"))]
    await until(lambda: len(got) >= rounds // 2)
    relay.upstream_port = b.port
    relay.cut()
    await asyncio.gather(*tasks)
    await until(lambda: client.connected and len(b.connects) == 1 and len(got) >= 2 * rounds)
    await asyncio.sleep(0.3)
    assert b.connects == [(sid, True)]
    assert got == stream_values(redis_server, names)
    await client.disconnect()


async def test_an_append_redis_answers_after_the_log_timeout_still_reaches_local_clients(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """The XADD is in flight when Redis pauses writes past ``log_timeout``: the emit raises, Redis
    appends it later, and this node's reader delivers it here too (every other node does), in its
    place, with its offset: no silent local gap."""
    (a,) = await start_nodes(serve, redis_server.url, names, count=1)
    a.sio.manager.adapter.driver.log_timeout = 0.5  # type: ignore[attr-defined]
    client, got, _sid = await joined_client(a, a.url)
    redis_server.client().execute_command("CLIENT", "PAUSE", 1500, "WRITE")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionError, match="did not confirm"):
        await a.sio.emit("n", "A", to="r1")
    assert loop.time() - started < 1.2
    await until(lambda: stream_values(redis_server, names) == ["A"], 5)
    await until(lambda: got == ["A"], 5)  # from this node's reader, before any later emit
    await a.sio.emit("n", "B", to="r1")
    await until(lambda: len(got) >= 2)
    await asyncio.sleep(0.2)
    assert got == ["A", "B"]
    await client.disconnect()
