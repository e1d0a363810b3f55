"""Connection-state recovery across aiosio nodes on Redis Streams: a client's TCP connection is cut
(a reset through a relay, not a clean disconnect) while 1,000 numbered messages go to a room it
is in; it reconnects to the OTHER node and gets every one exactly once, in order, with the same
sid, rooms and session. aiosio's client and the npm socket.io-client; emitted by the node the
client was on, and by the other one. Then the bounds, and what is never replayed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import aiosio
from recovery.cutter import Cutter
from recovery.node_csr import NodeCsr
from recovery.support import counting_client, fast_client, until

from .conftest import Names

pytestmark = pytest.mark.timeout(60)

CutterFactory = Callable[[int], Awaitable[Cutter]]


class Node:
    """One aiosio node of the test: its server, its URL, and every connect it saw."""

    def __init__(self, sio: aiosio.AsyncServer, url: str, port: int) -> None:
        self.sio = sio
        self.url = url
        self.port = port
        self.connects: list[tuple[str, bool]] = []


async def start_nodes(
    serve: Any, url: str, names: Names, count: int = 2, servers: int | None = None, **recovery: Any
) -> list[Node]:
    """``count`` aiosio nodes with recovery on, each counting ``servers`` (them all by default); a
    new socket joins r1 and gets a session."""
    nodes: list[Node] = []
    for _ in range(count):
        sio = aiosio.AsyncServer(
            client_manager=names.manager(url, **recovery.pop("manager", {})),
            connection_state_recovery=recovery or True,
            ping_interval=1,
            ping_timeout=1,
        )
        handle = await serve(sio)
        node = Node(sio, handle.url, handle.port)
        sio.on("connect", _connect_handler(node))
        nodes.append(node)
    async with asyncio.timeout(10):
        while [await n.sio.server_count() for n in nodes] != [servers or count] * count:
            await asyncio.sleep(0.02)
    return nodes


def _connect_handler(node: Node) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        recovered = node.sio.recovered(sid)
        node.connects.append((sid, recovered))
        if not recovered:
            await node.sio.enter_room(sid, "r1")
            async with node.sio.session(sid) as session:
                session["user"] = "ann"

    return connect


async def broadcast(node: Node, count: int = 1000) -> None:
    for i in range(count):
        await node.sio.emit("n", i, to="r1")
        if i % 20 == 0:
            await asyncio.sleep(0.002)


@pytest.mark.parametrize(
    ("emitter", "transport"), [("same", "websocket"), ("other", "websocket"), ("same", "polling")]
)
async def test_aiosio_client_gets_all_1000_on_the_other_node(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory, emitter: str, transport: str
) -> None:
    a, b = await start_nodes(serve, redis_server.url, names)
    relay = await cutter(a.port)
    client, got, sid = await counting_client(relay.url, transport)
    await until(lambda: a.connects == [(sid, False)] and a.sio.rooms(sid) == [sid, "r1"])
    task = asyncio.ensure_future(broadcast(a if emitter == "same" else b))
    await until(lambda: len(got) >= 100)
    relay.upstream_port = b.port  # it comes back on the other node
    relay.cut()
    await task
    await until(lambda: len(got) >= 1000 and client.connected and len(b.connects) == 1)
    await asyncio.sleep(0.2)  # nothing more may come
    assert got == list(range(1000))
    assert b.connects == [(sid, True)]
    assert client.get_sid() == sid and client.recovered
    assert b.sio.rooms(sid) == [sid, "r1"]
    assert (await b.sio.get_session(sid)) == {"user": "ann"}
    stats = b.sio.recovery_stats()
    assert stats is not None and stats.recovered == 1 and stats.refused == 0
    await client.disconnect()


async def test_npm_client_gets_all_1000_on_the_other_node(
    serve: Any,
    redis_server: Any,
    names: Names,
    cutter: CutterFactory,
    npm_clients: Callable[[], Awaitable[NodeCsr]],
) -> None:
    a, b = await start_nodes(serve, redis_server.url, names)
    relay = await cutter(a.port)
    peer = await npm_clients()
    client = await peer.command("client", url=relay.url, transports=["websocket"])
    sid = client["sid"]
    await until(lambda: a.connects == [(sid, False)] and a.sio.rooms(sid) == [sid, "r1"])
    task = asyncio.ensure_future(broadcast(a))
    await peer.wait_got(client["cid"], 100)
    relay.upstream_port = b.port
    relay.cut()
    await task
    got = await peer.all_received(client["cid"], 1000)
    assert [args[0] for args in got] == list(range(1000))
    # The npm client sees the stream entry id as a last argument, a distinct one each.
    assert all(len(args) == 2 and isinstance(args[1], str) for args in got)
    assert len({args[1] for args in got}) == 1000
    state = await peer.command("state", cid=client["cid"])
    assert state["sid"] == sid and state["recovered"] is True
    assert b.connects == [(sid, True)] and b.sio.rooms(sid) == [sid, "r1"]


async def test_too_long_away_gives_a_fresh_session(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory
) -> None:
    a, b = await start_nodes(serve, redis_server.url, names, max_disconnection_duration=0.5)
    relay = await cutter(a.port)
    client, got, sid = await counting_client(relay.url, reconnection_delay=1.5, reconnection_delay_max=1.5)
    await a.sio.emit("n", 0, to="r1")
    await until(lambda: got == [0])
    relay.upstream_port = b.port
    relay.cut()
    await until(lambda: not a.sio.manager.is_connected(sid, "/"))
    await a.sio.emit("n", 1, to="r1")
    await until(lambda: client.connected and len(b.connects) == 1)
    assert client.get_sid() != sid and not client.recovered
    assert b.connects[0][1] is False and got == [0]
    stats = b.sio.recovery_stats()
    assert stats is not None and stats.refused == 1 and stats.recovered == 0
    await client.disconnect()


async def cut_on_its_way(a: Node, b: Node, relay: Cutter) -> tuple[aiosio.AsyncClient, list[Any], str]:
    """A client (reconnecting after 1 s) on ``a`` through ``relay`` that got one ``n`` (-1), then
    cut with its reconnection sent to ``b``; returns once ``a`` saw it go: (client, got, sid)."""
    client, got, sid = await counting_client(relay.url, reconnection_delay=1.0, reconnection_delay_max=1.0)
    await a.sio.emit("n", -1, to="r1")
    await until(lambda: got == [-1])
    relay.upstream_port = b.port
    relay.cut()
    await until(lambda: not a.sio.manager.is_connected(sid, "/"))
    return client, got, sid


async def test_too_many_missed_packets_give_a_fresh_session(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory
) -> None:
    """A restore that would replay more than ``max_packets`` is refused, not read without bound."""
    a, b = await start_nodes(serve, redis_server.url, names, max_packets=50)
    client, got, sid = await cut_on_its_way(a, b, await cutter(a.port))
    for i in range(60):
        await a.sio.emit("n", i, to="r1")
    await until(lambda: client.connected and len(b.connects) == 1)
    assert client.get_sid() != sid and not client.recovered and got == [-1]
    stats = b.sio.recovery_stats()
    assert stats is not None and stats.refused == 1
    await client.disconnect()


async def test_an_offset_trimmed_from_the_stream_gives_a_fresh_session(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory
) -> None:
    a, b = await start_nodes(serve, redis_server.url, names, manager={"max_len": 10})
    client, got, sid = await cut_on_its_way(a, b, await cutter(a.port))
    for i in range(400):  # MAXLEN ~ 10 trims whole radix nodes of 100 entries: the offset goes
        await a.sio.emit("other", i)
    assert redis_server.client().xlen(names.stream) < 400
    await until(lambda: client.connected and len(b.connects) == 1)
    assert client.get_sid() != sid and not client.recovered and got == [-1]
    await client.disconnect()


async def test_acked_and_volatile_packets_are_never_replayed(
    serve: Any, redis_server: Any, names: Names, cutter: CutterFactory
) -> None:
    a, b = await start_nodes(serve, redis_server.url, names)
    relay = await cutter(a.port)
    client = fast_client(reconnection_delay=0.5, reconnection_delay_max=0.5)
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    client.on("acked", lambda *args: got.append(("acked", *args)) or "ok")
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    assert await a.sio.call("acked", "x", to=sid, timeout=5) == "ok"
    await a.sio.emit("n", "first", to="r1")
    await until(lambda: len(got) == 2)
    relay.upstream_port = b.port
    relay.cut()
    await until(lambda: not a.sio.manager.is_connected(sid, "/"))
    await a.sio.emit("n", "vol", to="r1", volatile=True)  # in the stream (for Node), never replayed
    await a.sio.emit("acked", "y", to="r1", callback=lambda *a: None)  # pub/sub: never in the stream
    await a.sio.emit("n", "kept", to="r1")
    entries = redis_server.client().xrange(names.stream)
    assert any(b'"volatile":true' in fields[b"data"] for _id, fields in entries)
    await until(lambda: client.connected and len(b.connects) == 1)
    await until(lambda: len(got) >= 3)
    await asyncio.sleep(0.2)
    assert got == [("acked", "x"), ("first",), ("kept",)]
    assert b.connects == [(sid, True)]
    await client.disconnect()


async def test_a_client_back_before_its_old_node_noticed_is_held_once(
    serve: Any, redis_server: Any, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client comes back on node B while node A still holds its old, silent connection: B
    disconnects the sid on A, and A, letting its socket go, deletes the session only if it still
    holds what A wrote (compare-and-delete): B's session stays in Redis all along (a crash of B
    now would not lose it), and the sid is held by B alone."""
    from .conftest import HalfCutter
    from .test_streams_order import SlowReaders

    gate = SlowReaders(monkeypatch)
    a, b = await start_nodes(serve, redis_server.url, names)
    gate.slow(a)
    gate.delay = 0.3  # A reads the disconnect (and lets its socket go) after B wrote the session
    relay = HalfCutter(a.port)
    await relay.start()
    try:
        client = fast_client()
        await client.connect(relay.url, transports=["websocket"])
        sid = client.get_sid()
        assert sid is not None
        await a.sio.emit("n", 1)  # B's session value then differs from A's (its start)
        relay.upstream_port = b.port
        relay.cut_client_side()
        await until(lambda: client.connected and len(b.connects) == 1)
        assert b.connects == [(sid, True)]
        redis = redis_server.client()
        pattern = f"{names.sessions}*".encode()
        await until(lambda: len(redis.keys(pattern)) == 1, timeout=2)  # B wrote it
        # Long before A's ping timeout (2 s): B had the sid disconnected there.
        loop = asyncio.get_running_loop()
        until_time = loop.time() + 1.2
        while loop.time() < until_time:
            assert len(redis.keys(pattern)) == 1  # never deleted by A
            await asyncio.sleep(0.02)
        assert not a.sio.manager.is_connected(sid, "/")
        found = await b.sio.fetch_sockets()
        assert [s.sid for s in found] == [sid]
        await client.disconnect()
    finally:
        await relay.close()


async def test_a_connected_socket_s_session_does_not_expire(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """Written when the socket connects and refreshed every half max_disconnection_duration, the
    session of a connected socket is in Redis however long it stays (a crash now loses nothing);
    a namespace disconnect deletes it."""
    [a] = await start_nodes(serve, redis_server.url, names, count=1, max_disconnection_duration=1)
    client = fast_client()
    await client.connect(a.url, transports=["websocket"])
    redis = redis_server.client()
    pattern = f"{names.sessions}*".encode()
    await until(lambda: len(redis.keys(pattern)) == 1)
    await asyncio.sleep(2.5)  # over twice the key's PX
    [key] = redis.keys(pattern)
    assert 0 < redis.pttl(key) <= 1000
    await client.disconnect()
    await until(lambda: not redis.keys(pattern))
