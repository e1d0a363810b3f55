"""Byte parity with Node's streams adapter, seen by Redis (MONITOR): the same broadcast made by an
aiosio node and by a Node node is the same XADD command but for the uid; the session both write
is the same SET (key, base64 msgpack value in Node's key order, PX)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import msgpack
import pytest

from aiosio.protocol.cluster import WireSession, encode_session
from cluster.conftest import NodeFactory
from cluster.monitor import RedisMonitor
from cluster.redis_fixtures import RedisServer

from .conftest import Names
from .test_csr_nodes import start_nodes

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]

HELLO: list[Any] = ["world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


async def test_the_same_broadcast_is_the_same_xadd(
    serve: Any, redis_server: RedisServer, node_cluster_node: NodeFactory, names: Names
) -> None:
    node = await node_cluster_node("streams", redis_server.url, csr=True, **names.node_options())
    [a] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    driver = a.sio.manager.adapter.driver  # type: ignore[attr-defined]
    async with RedisMonitor(redis_server.url) as mon:
        await a.sio.emit("hello", tuple(HELLO), to="room1")
        await node.command("emit", event="hello", args=HELLO, rooms="room1")
        await a.sio.emit("bin", (b"\x01\x02\x03", {"nested": b"hi", "k": "v"}))
        await node.command("emit", event="bin", args=[b"\x01\x02\x03", {"nested": b"hi", "k": "v"}])
        on_node = await node.client(node.url, transports=["websocket"], auth={"data": {"n": 1}})
        await node.command("join", sid=on_node["sid"], rooms=["r1"])
        await node.command("clientDrop", cid=on_node["cid"])  # Node writes the session at the loss
        await asyncio.sleep(0.3)
        await mon.sync()
    xadds = [c.args for c in mon.select("XADD") if c.args[0] == names.stream.encode()]
    ours = [args for args in xadds if driver.uid.encode() in args]
    theirs = [args for args in xadds if driver.uid.encode() not in args]
    assert len(ours) == 2 and len(theirs) >= 2
    for mine, node_s in zip(ours, theirs[:2], strict=True):
        assert mine[:6] == (names.stream.encode(), b"MAXLEN", b"~", b"10000", b"*", b"uid")
        assert node_s[:6] == mine[:6] and mine[7:] == node_s[7:]  # all but the uid, byte for byte
    [node_set] = [c.args for c in mon.select("SET") if c.args[0].startswith(names.sessions.encode())]
    key, value, px, ttl = node_set
    assert (px.upper(), ttl) == (b"PX", b"120000")
    session = msgpack.unpackb(base64.b64decode(value), raw=False)
    assert list(session) == ["sid", "pid", "rooms", "data"]
    assert session["rooms"] == [on_node["sid"], "r1"] and session["data"] == {"n": 1}
    # Without a start (aiosio's fifth key), aiosio's encoding of it is Node's, byte for byte.
    wire = WireSession(session["sid"], session["pid"], tuple(session["rooms"]), session["data"])
    assert encode_session(wire) == value
    # aiosio writes the same shape (its sessions are written when the socket connects).
    client = await node.client(a.url, transports=["websocket"])
    async with asyncio.timeout(5):
        while not (keys := redis_server.client().keys(f"{names.sessions}*".encode())) or len(keys) < 2:
            await asyncio.sleep(0.02)
    ours_key = next(k for k in keys if k != key)
    mine = msgpack.unpackb(base64.b64decode(redis_server.client().get(ours_key)), raw=False)
    assert list(mine) == ["sid", "pid", "rooms", "data", "start"]
    assert 0 < redis_server.client().pttl(ours_key) <= 120_000  # PX max_disconnection_duration
    assert mine["sid"] == client["sid"] and mine["rooms"] == [client["sid"], "r1"]
    assert mine["data"] == {"user": "ann"}
