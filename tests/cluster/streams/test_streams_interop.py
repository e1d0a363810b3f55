"""The Redis Streams adapter across languages: an aiosio node (in-process,
``AsyncRedisManager(mode='streams')``) and a Node socket.io 4.8 node on
@socket.io/redis-streams-adapter 0.3.1 form one cluster: server count, broadcasts both ways (a
room, binary, ``/admin``), fetch sockets, server-side emits with answers, broadcasts with acks
aggregated over both nodes, remote join/leave/disconnect, and what the aiosio node writes to the
stream. Clients are npm socket.io-client 4.8 inside the Node process, connected to either server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from cluster.conftest import NodeFactory
from cluster.node_peer import NodePeer
from cluster.redis_fixtures import RedisServer

from .conftest import Names

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]

HELLO: list[Any] = ["world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


async def pair(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, names: Names, **node_opts: Any
) -> tuple[aiosio.AsyncServer, str, NodePeer, list[tuple[str, list[Any]]]]:
    """A Node node and an aiosio node on the same streams, each counting 2 servers."""
    node = await node_cluster_node("streams", redis_server.url, **names.node_options(), **node_opts)
    sio = aiosio.AsyncServer(client_manager=names.manager(redis_server.url), namespaces=["/", "/admin"])
    events: list[tuple[str, list[Any]]] = []

    def ping(*args: Any) -> Any:
        events.append(("ping-servers", list(args)))
        return {"node": "py", "got": list(args)}

    sio.on_server_event("ping-servers", ping)
    sio.on_server_event("hello-servers", lambda *args: events.append(("hello-servers", list(args))))
    handle = await serve(sio)
    async with asyncio.timeout(10):
        while await sio.server_count() != 2 or await node.command("serverCount") != 2:
            await asyncio.sleep(0.05)
    return sio, handle.url, node, events


def got(node: NodePeer, cid: str, name: str) -> list[list[Any]]:
    """The args of every ``name`` event client ``cid`` received."""
    return [
        e["args"]
        for e in node.events
        if e["event"] == "client-event" and e["cid"] == cid and e["name"] == name
    ]


async def test_broadcasts_rooms_and_binary_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, names: Names
) -> None:
    sio, url, node, _ = await pair(redis_server, node_cluster_node, serve, names)
    on_py = await node.client(url, transports=["websocket"])
    on_node = await node.client(node.url, transports=["websocket"])
    outsider = await node.client(url, transports=["websocket"])
    await sio.enter_room(on_py["sid"], "r1")
    await node.command("join", sid=on_node["sid"], rooms=["r1"])
    await sio.emit("hello", tuple(HELLO), to="r1")
    await node.command("emit", event="hello-node", args=HELLO, rooms="r1")
    await sio.emit("bin", (b"\x01\x02\x03", {"nested": b"hi"}))
    await node.command("emit", event="bin-node", args=[b"\x09\x09"])
    for cid in (on_py["cid"], on_node["cid"]):
        await node.next_event({"event": "client-event", "cid": cid, "name": "bin-node"})
        await node.next_event({"event": "client-event", "cid": cid, "name": "bin"})
    await node.next_event({"event": "client-event", "cid": outsider["cid"], "name": "bin-node"})
    for cid in (on_py["cid"], on_node["cid"]):
        assert got(node, cid, "hello") == [HELLO] and got(node, cid, "hello-node") == [HELLO]
        assert got(node, cid, "bin") == [[b"\x01\x02\x03", {"nested": b"hi"}]]
        assert got(node, cid, "bin-node") == [[b"\x09\x09"]]
    assert not got(node, outsider["cid"], "hello") and not got(node, outsider["cid"], "hello-node")
    # What the aiosio node wrote: Node's fields in Node's order, JSON or base64 msgpack data.
    client = redis_server.client()
    entries = client.xrange(names.stream)
    driver = sio.manager.adapter.driver  # type: ignore[attr-defined]
    mine = [fields for _id, fields in entries if fields[b"uid"] == driver.uid.encode()]
    assert [list(f) for f in mine] == [[b"uid", b"nsp", b"type", b"data"]] * 2
    assert mine[0][b"data"] == (
        b'{"packet":{"type":2,"data":["hello","world",{"n":1,"f":1.5,"nil":null,"s":"\xc3\xa9"}]},'
        b'"opts":{"rooms":["r1"],"except":[],"flags":{}}}'
    )
    assert not mine[1][b"data"].startswith(b"{")  # base64 of msgpack: it has binary


async def test_fetch_sockets_and_remote_operations_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, names: Names
) -> None:
    sio, url, node, _ = await pair(redis_server, node_cluster_node, serve, names)
    on_py = await node.client(url, transports=["websocket"])
    on_node = await node.client(node.url, transports=["websocket"], auth={"data": {"who": "n"}})
    found = await sio.fetch_sockets()
    assert {s.sid for s in found} == {on_py["sid"], on_node["sid"]}
    theirs = await node.command("fetchSockets")
    assert {s["id"] for s in theirs} == {on_py["sid"], on_node["sid"]}
    # A join from aiosio of a socket on the Node node (stream entry, type 4), then a room broadcast.
    await sio.enter_room(on_node["sid"], "r2")
    await node.command("socketsJoin", rooms=on_py["sid"], join="r2")
    async with asyncio.timeout(5):
        while "r2" not in sio.rooms(on_py["sid"]) or "r2" not in (await node.command("localState"))["rooms"]:
            await asyncio.sleep(0.02)
    in_r2 = await sio.fetch_sockets("r2")
    assert {s.sid for s in in_r2} == {on_py["sid"], on_node["sid"]}
    await sio.disconnect(on_node["sid"])
    await node.next_event({"event": "client-disconnect", "cid": on_node["cid"]})
    await node.command("disconnectSockets", rooms=on_py["sid"], close=True)
    await node.next_event({"event": "client-disconnect", "cid": on_py["cid"]})


async def test_server_side_emits_and_ack_broadcasts_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, names: Names
) -> None:
    sio, url, node, events = await pair(redis_server, node_cluster_node, serve, names)
    await node.command("onServerSide", event="ping-servers", reply={"node": "N"})
    assert list(await sio.server_side_call("ping-servers", "x")) == [{"node": "N"}]
    assert await node.command("serverSideEmitWithAck", event="ping-servers", args=["y"]) == [
        {"node": "py", "got": ["y"]}
    ]
    await node.command("serverSideEmit", event="hello-servers", args=["z", 1])
    async with asyncio.timeout(5):
        while ("hello-servers", ["z", 1]) not in events:
            await asyncio.sleep(0.02)
    on_py = await node.client(url, transports=["websocket"])
    on_node = await node.client(node.url, transports=["websocket"])
    answers = await sio.emit_with_ack("ack-me", "q", timeout=5)
    assert sorted(a["client"] for a in answers) == sorted([on_py["cid"], on_node["cid"]])
    theirs = await node.command("emitWithAck", event="ack-me", args=["r"], timeoutMs=3000)
    assert sorted(a["client"] for a in theirs) == sorted([on_py["cid"], on_node["cid"]])
