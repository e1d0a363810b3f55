"""Connection-state recovery between an aiosio node and a Node socket.io 4.8 node on
@socket.io/redis-streams-adapter 0.3.1, both ways: an npm socket.io-client whose TCP connection is
cut while 1,000 numbered messages go to a room it is in comes back on the node of the other
language and gets every one exactly once, in order, with the same sid, rooms and data.

While the client is away the relay points nowhere, and it is let through to the other node once
the session is in Redis: Node writes it (fire-and-forget) only when it notices the loss, and a
client faster than that SET is not recovered by any node (redis-streams-adapter#26); Node's own
restore also misses entries appended between its last XRANGE and the socket's join, so in the
aiosio-to-Node direction the client comes back once the broadcast is over."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from cluster.conftest import NodeFactory
from cluster.redis_fixtures import RedisServer
from recovery.cutter import Cutter
from recovery.node_csr import NodeCsr
from recovery.support import counting_client, until

from .conftest import Names
from .test_csr_nodes import broadcast, start_nodes

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

CutterFactory = Callable[[int], Awaitable[Cutter]]


def dead_port() -> int:
    """A port nothing listens on (a client sent there fails to connect, and retries)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_client_of_an_aiosio_node_recovers_on_a_node_node(
    serve: Any,
    redis_server: RedisServer,
    names: Names,
    cutter: CutterFactory,
    npm_clients: Callable[[], Awaitable[NodeCsr]],
    node_cluster_node: NodeFactory,
) -> None:
    node = await node_cluster_node("streams", redis_server.url, csr=True, **names.node_options())
    [a] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    relay = await cutter(a.port)
    peer = await npm_clients()
    client = await peer.command("client", url=relay.url, transports=["websocket"])
    sid = client["sid"]
    await until(lambda: a.connects == [(sid, False)] and a.sio.rooms(sid) == [sid, "r1"])
    task = asyncio.ensure_future(broadcast(a))
    await peer.wait_got(client["cid"], 100)
    relay.upstream_port = dead_port()
    relay.cut()
    await task
    relay.upstream_port = node.port
    got = await peer.all_received(client["cid"], 1000)
    assert [args[0] for args in got] == list(range(1000))
    assert len({args[1] for args in got}) == 1000
    state = await peer.command("state", cid=client["cid"])
    assert state["sid"] == sid and state["recovered"] is True
    event = await node.next_event({"event": "connection", "sid": sid})
    assert event["recovered"] is True and event["rooms"] == [sid, "r1"]
    [info] = [s for s in await node.command("fetchSockets") if s["id"] == sid]
    assert info["data"] == {"user": "ann"}


async def test_a_client_of_a_node_node_recovers_on_an_aiosio_node(
    serve: Any,
    redis_server: RedisServer,
    names: Names,
    cutter: CutterFactory,
    npm_clients: Callable[[], Awaitable[NodeCsr]],
    node_cluster_node: NodeFactory,
) -> None:
    node = await node_cluster_node("streams", redis_server.url, csr=True, **names.node_options())
    [a] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    relay = await cutter(node.port)
    peer = await npm_clients()
    client = await peer.command("client", url=relay.url, transports=["websocket"])
    sid = client["sid"]
    await node.command("join", sid=sid, rooms=["r1"])
    await node.command("setData", sid=sid, data={"user": "bob"})

    async def from_node() -> None:
        for i in range(1000):
            await node.command("emit", event="n", args=[i], rooms="r1")

    task = asyncio.ensure_future(from_node())
    await peer.wait_got(client["cid"], 100)
    relay.upstream_port = dead_port()
    relay.cut()
    key = f"{names.sessions}".encode()
    redis = redis_server.client()
    async with asyncio.timeout(10):
        while not redis.keys(key + b"*"):
            await asyncio.sleep(0.01)
    relay.upstream_port = a.port  # back while the Node node still broadcasts: aiosio's restore is exact
    await task
    got = await peer.all_received(client["cid"], 1000)
    assert [args[0] for args in got] == list(range(1000))
    assert len({args[1] for args in got}) == 1000
    state = await peer.command("state", cid=client["cid"])
    assert state["sid"] == sid and state["recovered"] is True
    assert a.connects == [(sid, True)]
    assert a.sio.rooms(sid) == [sid, "r1"]
    assert (await a.sio.get_session(sid)) == {"user": "bob"}


async def test_node_s_acked_socket_emits_are_not_replayed_by_aiosio(
    serve: Any,
    redis_server: RedisServer,
    names: Names,
    cutter: CutterFactory,
    npm_clients: Callable[[], Awaitable[NodeCsr]],
    node_cluster_node: NodeFactory,
) -> None:
    """Node 0.3.1 XADDs an acked ``socket.emit`` (CSR on) with its ack id, and its own restore
    replays it (CLUSTER-WIRE.md §4, defect 1); an aiosio node restoring the session does not."""
    node = await node_cluster_node("streams", redis_server.url, csr=True, **names.node_options())
    [a] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    relay = await cutter(node.port)
    peer = await npm_clients()
    client = await peer.command("client", url=relay.url, transports=["websocket"])
    sid = client["sid"]
    await node.command("join", sid=sid, rooms=["r1"])
    await node.command("emit", event="n", args=[0], rooms="r1")
    await node.command("socketEmit", sid=sid, event="n", args=["acked"], timeoutMs=300)
    await node.command("emit", event="n", args=[1], rooms="r1", volatile=True)
    await peer.wait_got(client["cid"], 3)
    relay.upstream_port = dead_port()
    relay.cut()
    redis = redis_server.client()
    async with asyncio.timeout(10):
        while not redis.keys(f"{names.sessions}*".encode()):
            await asyncio.sleep(0.01)
    entries = redis.xrange(names.stream)
    assert any(b'"id":' in fields[b"data"] for _id, fields in entries)  # the acked emit is there
    await node.command("emit", event="n", args=[2], rooms="r1")
    await node.command("emit", event="n", args=[3], rooms="r1", volatile=True)
    relay.upstream_port = a.port
    got = await peer.all_received(client["cid"], 4)
    assert [args[0] for args in got] == [0, "acked", 1, 2]  # neither the acked emit again nor 3
    assert (await peer.command("state", cid=client["cid"]))["recovered"] is True


async def test_aiosio_s_client_recovers_on_a_node_node(
    serve: Any,
    redis_server: RedisServer,
    names: Names,
    cutter: CutterFactory,
    node_cluster_node: NodeFactory,
) -> None:
    """aiosio's client, cut from an aiosio node, comes back recovered on a Node node (which
    restores the session aiosio wrote and replays the stream): every message once, in order."""
    node = await node_cluster_node("streams", redis_server.url, csr=True, **names.node_options())
    [a] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    relay = await cutter(a.port)
    client, got, sid = await counting_client(relay.url)
    await until(lambda: a.sio.rooms(sid) == [sid, "r1"])
    task = asyncio.ensure_future(broadcast(a, 300))
    await until(lambda: len(got) >= 30)
    relay.upstream_port = dead_port()
    relay.cut()
    await task
    relay.upstream_port = node.port
    await until(lambda: len(got) >= 300 and client.connected, timeout=20)
    await asyncio.sleep(0.2)
    assert got == list(range(300))
    assert client.get_sid() == sid and client.recovered
    event = await node.next_event({"event": "connection", "sid": sid})
    assert event["recovered"] is True and event["rooms"] == [sid, "r1"]
    await client.disconnect()
