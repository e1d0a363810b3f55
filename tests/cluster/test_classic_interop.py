"""The classic Redis interop matrix (CLUSTER-WIRE.md §8, rows 1-9): aiosio nodes and Node socket.io
nodes on ``@socket.io/redis-adapter`` 8.3.0 share one cluster, and every cluster operation works
both ways: requested from the aiosio node and from the Node node.

Every client is a npm socket.io-client held by a Node process (``holder``), connected to whichever
server the test needs; "nothing else arrived" is proven with a ``settle`` mark broadcast after the
operation (a sender's publishes and a client's events are ordered).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio

from .classic_support import (
    HANDSHAKE_KEYS,
    JS_DATE,
    LocalFactory,
    Peer,
    aiosio_node,
    connect,
    counts,
    py_process,
    received,
    settle,
    until,
    who_got,
)
from .conftest import NodeFactory
from .node_peer import NodeCommandError, NodePeer
from .py_node import LocalPeer
from .redis_fixtures import RedisServer

__all__ = ["aiosio_node", "py_process"]  # fixtures used here

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]

HELLO_ARGS: list[Any] = ["world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


async def pair(
    node_cluster_node: NodeFactory, aiosio_node: LocalFactory, url: str, **opts: Any
) -> tuple[NodePeer, LocalPeer]:
    """A Node node A and an aiosio node P on one Redis."""
    node = await node_cluster_node("classic", url, name="A", **opts)
    return node, await aiosio_node(url, name="P", **opts)


def sender_and_other(node: NodePeer, py: LocalPeer, sender: str) -> tuple[Peer, Peer]:
    """(requester, the other node) for a direction parameter ``node`` / ``py``."""
    return (node, py) if sender == "node" else (py, node)


# ------------------------------------------------------------------------------------- 1. server count


@pytest.mark.parametrize("layout", ["NP", "NNP", "NPP"])
async def test_server_count(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, layout: str
) -> None:
    """Every node counts every node, in both namespaces (NUMSUB of the request channel); a client on
    /admin does not subscribe the aiosio node twice; an aiosio node that shuts down is not counted
    any more, at once."""
    peers: list[Peer] = []
    for i, kind in enumerate(layout):
        if kind == "N":
            peers.append(await node_cluster_node("classic", redis_server.url, name=f"N{i}"))
        else:
            peers.append(await aiosio_node(redis_server.url, name=f"P{i}"))
    n = len(peers)
    hub = next(p for p in peers if isinstance(p, NodePeer))
    for p in peers:
        await connect(hub, p, nsp="/admin")  # a namespace's first socket must not subscribe again
    assert await counts(peers) == [n] * n
    assert await counts(peers, "/admin") == [n] * n
    numsub = await hub.command("redisCommand", args=["PUBSUB", "NUMSUB", "socket.io-request#/admin#"])
    assert numsub == ["socket.io-request#/admin#", n]
    leaving = peers.pop()
    assert isinstance(leaving, LocalPeer)
    await leaving.sio.shutdown()
    assert await counts(peers) == [n - 1] * (n - 1)  # unsubscribed before shutdown() returned
    assert await counts(peers, "/admin") == [n - 1] * (n - 1)


# ------------------------------------------------------------------------------------- 2. broadcasts


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_broadcasts_reach_exactly_the_selected_clients(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """To one room, to everyone, except a room (its members on the other node are left out too), to
    two rooms, to /admin: each selected client of either node gets it exactly once, nobody else."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, _ = sender_and_other(node, py, sender)
    clients: dict[str, dict[str, Any]] = {}
    for server, tag in ((node, "a"), (py, "p")):
        clients[f"{tag}1"] = await connect(node, server, "room1")
        clients[f"{tag}2"] = await connect(node, server, "room2")
        clients[f"{tag}3"] = await connect(node, server)
        clients[f"{tag}A"] = await connect(node, server, "room1", nsp="/admin")
    cid = {name: info["cid"] for name, info in clients.items()}
    main = [cid[k] for k in ("a1", "a2", "a3", "p1", "p2", "p3")]
    admin = [cid["aA"], cid["pA"]]

    await src.command("emit", event="to-room1", args=HELLO_ARGS, rooms="room1")
    await src.command("emit", event="to-all", args=[42])
    await src.command("emit", event="except-room1", args=["x"], **{"except": "room1"})
    await src.command("emit", event="two-rooms", rooms=["room1", "room2"])
    await src.command("emit", event="adm", args=[1], nsp="/admin")
    await settle(src, node, main)
    await settle(src, node, admin, nsp="/admin")

    everyone = main + admin

    def once(*names: str) -> dict[str, int]:
        return {cid[n]: 1 for n in names}

    assert who_got(node, "to-room1", everyone) == once("a1", "p1")
    assert who_got(node, "to-all", everyone) == once("a1", "a2", "a3", "p1", "p2", "p3")
    assert who_got(node, "except-room1", everyone) == once("a2", "a3", "p2", "p3")
    assert who_got(node, "two-rooms", everyone) == once("a1", "a2", "p1", "p2")
    assert who_got(node, "adm", everyone) == once("aA", "pA")
    assert received(node, cid["p1"], "to-room1")[0]["args"] == HELLO_ARGS
    assert received(node, cid["a1"], "to-room1")[0]["args"] == HELLO_ARGS


# ------------------------------------------------------------------------------------- 3. binary


BINARY_ARGS: list[Any] = [b"\x01\x02\x03", {"nested": b"hi", "k": "v", "deep": [{"b": b"\x00\xff"}]}]


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_binary_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """bytes arguments (nested too) cross the cluster as msgpack bin: Node clients get Buffers, an
    aiosio AsyncClient on the aiosio node gets ``bytes``, identical on both nodes."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, _ = sender_and_other(node, py, sender)
    on_node = await connect(node, node)
    on_py = await connect(node, py)
    client = aiosio.AsyncClient()
    got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    @client.on("bin")
    async def on_bin(*args: Any) -> None:
        if not got.done():
            got.set_result(args)

    await client.connect(py.url, transports=["websocket"])
    try:
        await src.command("emit", event="bin", args=BINARY_ARGS)
        for info in (on_node, on_py):
            ev = await node.next_event({"event": "client-event", "cid": info["cid"], "name": "bin"})
            assert ev["args"] == BINARY_ARGS
        args = await asyncio.wait_for(got, 5)
        assert list(args) == BINARY_ARGS
        assert isinstance(args[0], bytes) and isinstance(args[1]["deep"][0]["b"], bytes)
    finally:
        await client.disconnect()


# ------------------------------------------------------------------------------------- 4. fetch sockets


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_fetch_sockets_and_remote_socket_operations(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """Both nodes' sockets with ids, rooms, data (Node's setData / aiosio's save_session) and a
    Node-shaped handshake; ``to=room`` filtering; the remote socket's emit, join, leave and
    disconnect act on a socket of the other node."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, other = sender_and_other(node, py, sender)
    a1 = await connect(node, node, "room1")
    p1 = await connect(node, py, "room1")
    a2 = await connect(node, node)
    p2 = await connect(node, py)
    await node.command("setData", sid=a1["sid"], data={"node": "A", "n": 1})
    await py.command("setData", sid=p1["sid"], data={"node": "P", "n": 2})

    listed = await src.command("fetchSockets")
    found = {s["id"]: s for s in listed}
    assert set(found) == {a1["sid"], p1["sid"], a2["sid"], p2["sid"]} and len(listed) == 4  # each once
    if src is node:  # a socket without a session: Node's default socket.data, like its own sockets
        assert found[p2["sid"]]["data"] == found[a2["sid"]]["data"] == {}
    assert found[a1["sid"]]["data"] == {"node": "A", "n": 1}
    assert found[p1["sid"]]["data"] == {"node": "P", "n": 2}
    assert sorted(found[a1["sid"]]["rooms"]) == sorted([a1["sid"], "room1"])
    assert sorted(found[p1["sid"]]["rooms"]) == sorted([p1["sid"], "room1"])
    mine = a1["sid"] if src is node else p1["sid"]
    assert {sid: s["local"] for sid, s in found.items() if s["id"] in (a1["sid"], p1["sid"])} == {
        a1["sid"]: mine == a1["sid"],
        p1["sid"]: mine == p1["sid"],
    }
    for s in found.values():
        hs = s["handshake"]
        assert list(hs) == HANDSHAKE_KEYS
        assert JS_DATE.match(hs["time"]), hs["time"]
        assert isinstance(hs["issued"], int) and hs["issued"] > 1_700_000_000_000
        assert hs["address"] == "127.0.0.1" and hs["xdomain"] is False and hs["secure"] is False
        assert hs["url"].startswith("/socket.io/?EIO=4") and hs["query"]["EIO"] == "4"
        assert "host" in hs["headers"] and hs["auth"] == {}
    assert sorted(s["id"] for s in await src.command("fetchSockets", rooms="room1")) == sorted(
        [a1["sid"], p1["sid"]]
    )
    assert [s["id"] for s in await src.command("fetchSockets", rooms="room1", **{"except": a1["sid"]})] == [
        p1["sid"]
    ]
    assert await src.command("fetchSockets", rooms="nobody-here") == []

    # the remote socket's operations, on the other node's socket
    target = p1 if other is py else a1
    await src.command("remoteSocket", sid=target["sid"], op="emit", args=["direct", b"\x07", 7])
    ev = await node.next_event({"event": "client-event", "cid": target["cid"], "name": "direct"})
    assert ev["args"] == [b"\x07", 7]

    async def in_r9() -> bool:
        return target["sid"] in (await other.command("localState"))["rooms"].get("r9", [])

    async def not_in_r9() -> bool:
        return not await in_r9()

    await src.command("remoteSocket", sid=target["sid"], op="join", args=["r9"])
    await until(in_r9)  # fire-and-forget on the wire: it takes effect a moment later
    await src.command("remoteSocket", sid=target["sid"], op="leave", args=["r9"])
    await until(not_in_r9)
    await src.command("remoteSocket", sid=target["sid"], op="disconnect", args=[True])
    ev = await node.next_event({"event": "client-disconnect", "cid": target["cid"]})
    assert ev["reason"] == "io server disconnect"
    # nobody else got the direct emit, and the others are still connected
    await settle(src, node, [a2["cid"], p2["cid"]])
    assert who_got(node, "direct", [a1["cid"], p1["cid"], a2["cid"], p2["cid"]]) == {target["cid"]: 1}


# ------------------------------------------------------------------------------------- 5. server-side emit


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_server_side_emit(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """Without acks it reaches the other node (never the sender); with acks the answer comes back;
    an event nobody handles: Node times out with its text, aiosio returns no answers and
    ``missing == 1`` without raising."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url, requestsTimeout=600)
    src, other = sender_and_other(node, py, sender)
    await other.command("onServerSide", event="hello-servers", reply={"from": other.name})
    await src.command("onServerSide", event="hello-servers", reply={"from": src.name})
    await src.command("serverSideEmit", event="hello-servers", args=["x", 1, b"\x01"])
    ev = await other.next_event({"event": "server-side", "name": "hello-servers"})
    assert ev["args"][:2] == ["x", 1]
    answers = await src.command("serverSideEmitWithAck", event="hello-servers", args=["y"])
    assert answers == [{"from": other.name}]
    ev = await other.next_event({"event": "server-side", "name": "hello-servers"})
    assert ev["args"] == ["y"]
    assert src.unclaimed({"event": "server-side"}) == []  # never delivered to the sender itself

    if src is node:
        assert await node.command("serverSideEmitWithAck", event="nobody-handles") == {
            "error": "timeout reached: only 0 responses received out of 1",
            "responses": [],
        }
    else:
        answers = await py.sio.server_side_call("nobody-handles", timeout=0.5)
        assert list(answers) == [] and answers.missing == 1 and not answers.complete


# ------------------------------------------------------------------------------------- 6. aggregated acks


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_emit_with_ack_aggregates_every_node(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """Acks of clients on both nodes come back to the sender; a node with no matching client still
    reports clientCount 0, so the sender completes at once instead of timing out."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, other = sender_and_other(node, py, sender)
    on_src = await connect(node, src, "r-src", "r-both")
    on_other = await connect(node, other, "r-other", "r-both")

    acks = await src.command("emitWithAck", event="ack-me-all", args=["q"], timeoutMs=3000)
    assert sorted(a["client"] for a in acks) == sorted([on_src["cid"], on_other["cid"]])
    acks = await src.command("emitWithAck", event="ack-me-both", rooms="r-both", timeoutMs=3000)
    assert sorted(a["client"] for a in acks) == sorted([on_src["cid"], on_other["cid"]])
    for room, holder in (("r-src", on_src), ("r-other", on_other)):
        t0 = asyncio.get_running_loop().time()
        acks = await src.command("emitWithAck", event="ack-me-one", rooms=room, timeoutMs=4000)
        took = asyncio.get_running_loop().time() - t0
        assert acks == [{"client": holder["cid"], "ev": "ack-me-one"}]
        assert took < 2.0, f"{room}: {took:.2f}s: a node with no matching client did not say so"
    t0 = asyncio.get_running_loop().time()
    assert await src.command("emitWithAck", event="ack-me-none", rooms="empty", timeoutMs=4000) == []
    assert asyncio.get_running_loop().time() - t0 < 2.0


# ------------------------------------------------------------------------------------- 7. remote room ops


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_remote_join_leave_disconnect(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, sender: str
) -> None:
    """sockets_join / sockets_leave / disconnect_sockets(close=True) from one node act on the other
    node's sockets: a following broadcast to the joined room reaches them, after leaving it does not;
    the disconnected client is told ``io server disconnect``."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, other = sender_and_other(node, py, sender)
    here = await connect(node, src, "room1")
    there = await connect(node, other, "room1")
    bystander = await connect(node, other)
    cids = [here["cid"], there["cid"], bystander["cid"]]

    async def members(room: str) -> list[str]:
        found: list[str] = []
        for peer in (src, other):
            found += (await peer.command("localState"))["rooms"].get(room, [])
        return sorted(found)

    async def joined() -> bool:
        return await members("j2") == sorted([here["sid"], there["sid"]])

    async def left() -> bool:
        return await members("j2") == []

    await src.command("socketsJoin", rooms="room1", join=["j1", "j2"])
    # Node applies its own socketsJoin only when its request comes back from Redis (aiosio at once)
    await until(joined)
    await src.command("emit", event="in-j2", rooms="j2")
    await settle(src, node, cids)
    assert who_got(node, "in-j2", cids) == {here["cid"]: 1, there["cid"]: 1}
    assert await members("j1") == sorted([here["sid"], there["sid"]])

    await src.command("socketsLeave", rooms="room1", leave=["j2"])
    await until(left)
    await src.command("emit", event="in-j2-again", rooms="j2")
    await src.command("emit", event="in-j1", rooms="j1")
    await settle(src, node, cids)
    assert who_got(node, "in-j2-again", cids) == {}
    assert who_got(node, "in-j1", cids) == {here["cid"]: 1, there["cid"]: 1}

    await src.command("disconnectSockets", rooms="j1", close=True)
    for info in (here, there):
        ev = await node.next_event({"event": "client-disconnect", "cid": info["cid"]})
        assert ev["reason"] == "io server disconnect"
    await settle(src, node, [bystander["cid"]])
    assert (await other.command("localState"))["sockets"] == [bystander["sid"]]


async def test_emit_to_a_remote_sid(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``sio.emit(to=sid)`` of a socket on the Node node reaches that client only (the sid is a room
    of its own on the wire), and Node's ``io.to(sid)`` reaches an aiosio socket."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    a1, a2 = await connect(node, node), await connect(node, node)
    p1, p2 = await connect(node, py), await connect(node, py)
    await py.command("emit", event="to-sid", rooms=a1["sid"])
    await node.command("emit", event="to-sid", rooms=p1["sid"])
    cids = [a1["cid"], a2["cid"], p1["cid"], p2["cid"]]
    await settle(py, node, cids)
    await settle(node, node, cids, mark="mark2")
    assert who_got(node, "to-sid", cids) == {a1["cid"]: 1, p1["cid"]: 1}


async def test_node_all_rooms_includes_the_aiosio_node(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Node's ``allRooms()`` (an ALL_ROOMS request aiosio answers, though it never sends one)."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    p1 = await connect(node, py, "py-room")
    rooms = await node.command("rooms")
    assert {p1["sid"], "py-room"} <= set(rooms)


async def test_node_requests_to_an_aiosio_node_never_wait_for_the_timeout(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """A Node requester waits for every server's answer until its timeout: the aiosio node answers
    every request type (fetch, all rooms, ack broadcast, server-side call) at once, so none waits."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url, requestsTimeout=3000)
    await connect(node, py)
    await py.command("onServerSide", event="q", reply=1)
    for cmd, args in (
        ("fetchSockets", {}),
        ("rooms", {}),
        ("emitWithAck", {"event": "ack-me", "timeoutMs": 3000}),
        ("serverSideEmitWithAck", {"event": "q"}),
    ):
        reply = await node.send(cmd, **args)
        assert reply["ok"] and reply["ms"] < 2000, (cmd, reply)
        assert not (isinstance(reply["result"], dict) and "error" in reply["result"]), reply
    with pytest.raises(NodeCommandError, match="no socket"):
        await node.command("remoteSocket", sid="not-a-socket-anywhere", op="emit", args=["x"])


async def test_sid_operations_on_a_node_socket_act_on_that_socket_only(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``enter_room`` / ``leave_room`` / ``disconnect`` given the sid of a socket on the Node node act
    on it (the legacy ``{sid, room}`` requests Node 8.x answers); given a name that is only a room on
    the Node node, they select nobody there (python-socketio's meaning of a sid)."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    target = await connect(node, node)
    lobby = [await connect(node, node, "lobby") for _ in range(2)]
    driver: Any = py.sio.manager.adapter.driver

    async def rooms_of(sid: str) -> list[str]:
        state = await node.command("localState")
        return sorted(room for room, sids in state["rooms"].items() if sid in sids and room != sid)

    await py.sio.enter_room(target["sid"], "vip")
    await until(lambda: _is(rooms_of(target["sid"]), ["vip"]))
    await py.sio.leave_room(target["sid"], "vip")
    await until(lambda: _is(rooms_of(target["sid"]), []))
    await py.sio.enter_room("lobby", "elsewhere")  # "lobby" is nobody's sid
    await py.sio.disconnect("lobby")
    await py.sio.disconnect(target["sid"])
    ev = await node.next_event({"event": "client-disconnect", "cid": target["cid"]})
    assert ev["reason"] == "io server disconnect"
    await settle(py, node, [c["cid"] for c in lobby])
    for c in lobby:
        assert (await node.command("clientInfo", cid=c["cid"]))["connected"] is True
        assert await rooms_of(c["sid"]) == ["lobby"]
    assert driver.dropped.count == 0  # Node's {requestId} answers to them are understood, and ignored


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_numeric_room_from_node(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Node's ``io.to(5)`` publishes the room as a msgpack integer (on ``socket.io#/#5#``): it reaches
    an aiosio socket in room ``"5"`` (rooms are text in aiosio), and nobody else."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    member, other = await connect(node, py, "5"), await connect(node, py)
    await node.command("emit", event="numeric", rooms=[5])
    await settle(node, node, [member["cid"], other["cid"]])
    assert who_got(node, "numeric", [member["cid"], other["cid"]]) == {member["cid"]: 1}


async def test_publish_on_specific_response_channel(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, monitor: Any
) -> None:
    """Node's ``publishOnSpecificResponseChannel``, on both nodes: each answers a fetch on the
    requester's own channel ``socket.io-response#/#<uid>#`` (and a server-side ack on the common
    one), and each requester gets its answer there."""
    node, py = await pair(
        node_cluster_node, aiosio_node, redis_server.url, publishOnSpecificResponseChannel=True
    )
    on_node, on_py = await connect(node, node), await connect(node, py)
    await node.command("onServerSide", event="q", reply="A")
    await py.command("onServerSide", event="q", reply="P")
    async with monitor(redis_server.url) as mon:
        assert {s["id"] for s in await node.command("fetchSockets")} == {on_node["sid"], on_py["sid"]}
        found = await py.sio.fetch_sockets()
        assert found.complete and {s.sid for s in found} == {on_node["sid"], on_py["sid"]}
        assert await node.command("serverSideEmitWithAck", event="q") == ["P"]
        assert list(await py.sio.server_side_call("q")) == ["A"]
        await mon.sync()
    assert len(mon.published(f"socket.io-response#/#{node.uids['/']}#")) == 1  # the aiosio node's answer
    assert len(mon.published(f"socket.io-response#/#{py.uid}#")) == 1  # the Node node's answer
    assert len(mon.published("socket.io-response#/#")) == 2  # the server-side acks, both ways


async def test_json_only_values_cross_as_node_sends_them(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Classic fetch answers and server-side emits are JSON, as between Node servers: ``bytes`` in a
    session or a server-side argument arrive as Node's Buffer JSON form; a session JSON cannot hold
    (a set) is described with Node's default ``{}``, and the other sockets still are."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    binary = await connect(node, py)
    await py.command("setData", sid=binary["sid"], data={"b": b"\x01\x02"})
    [found] = [s for s in await node.command("fetchSockets") if s["id"] == binary["sid"]]
    assert found["data"] == {"b": {"type": "Buffer", "data": [1, 2]}}
    await node.command("onServerSide", event="bin")
    await py.sio.server_side_emit("bin", b"\x03")
    ev = await node.next_event({"event": "server-side", "name": "bin"})
    assert ev["args"] == [{"type": "Buffer", "data": [3]}]

    odd = await connect(node, py)
    await py.sio.save_session(odd["sid"], {"tags": {"a", "b"}})
    listed = {s["id"]: s for s in await node.command("fetchSockets")}
    assert listed[odd["sid"]]["data"] == {}
    assert listed[binary["sid"]]["data"] == {"b": {"type": "Buffer", "data": [1, 2]}}  # only that one


@pytest.mark.parametrize("layout", ["NNP", "NPP"])
async def test_three_nodes_hear_each_other_once(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, layout: str
) -> None:
    """Three nodes (2 Node + 1 aiosio, 1 Node + 2 aiosio): every node's broadcast reaches every
    client of every node exactly once, every node's fetch lists every socket once, complete, and an
    ack broadcast gathers every client's ack."""
    peers: list[Peer] = []
    for i, kind in enumerate(layout):
        if kind == "N":
            peers.append(await node_cluster_node("classic", redis_server.url, name=f"N{i}"))
        else:
            peers.append(await aiosio_node(redis_server.url, name=f"P{i}"))
    hub = peers[0]
    assert isinstance(hub, NodePeer)
    clients = [await connect(hub, p) for p in peers for _ in range(2)]
    cids = [c["cid"] for c in clients]
    for i, p in enumerate(peers):
        await p.command("emit", event=f"from-{i}", args=[i])
    for p in peers:
        await settle(p, hub, cids)
    for i in range(len(peers)):
        assert who_got(hub, f"from-{i}", cids) == dict.fromkeys(cids, 1)
    for p in peers:
        listed = await p.command("fetchSockets")
        assert sorted(s["id"] for s in listed) == sorted(c["sid"] for c in clients)
        acks = await p.command("emitWithAck", event="ack-me-3", timeoutMs=3000)
        assert sorted(a["client"] for a in acks) == sorted(cids)


async def test_queries_on_a_namespace_the_aiosio_node_does_not_serve_yet(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """An aiosio node serving only ``/`` asks about ``/admin``, where only the Node node has a
    client: fetch_sockets, server_side_call and emit_with_ack reach the Node node and get its
    answers (the aiosio node joins the namespace's cluster to hear them), not an empty result."""
    node = await node_cluster_node("classic", redis_server.url, name="A")
    py = await aiosio_node(redis_server.url, nsps=["/"])
    admin = await connect(node, node, nsp="/admin")
    await node.command("onServerSide", event="q", reply="A", nsp="/admin")
    assert await py.sio.server_count(namespace="/admin") == 1  # only A serves it
    found = await py.sio.fetch_sockets(namespace="/admin", timeout=2)
    assert [s.sid for s in found] == [admin["sid"]] and found.complete
    assert list(await py.sio.server_side_call("q", namespace="/admin", timeout=2)) == ["A"]
    acks = await py.sio.emit_with_ack("ack-me", None, namespace="/admin", timeout=2)
    assert acks == [{"client": admin["cid"], "ev": "ack-me"}]
    assert await node.command("serverCount", nsp="/admin") == 2


async def test_node_remote_socket_emit_with_ack_on_an_aiosio_socket(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Node's ``remoteSocket.timeout(t).emitWithAck()`` on an aiosio socket (an ack broadcast to the
    sid, ``expectSingleResponse``): that client alone is asked, and its ack comes back at once."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    target, other = await connect(node, py), await connect(node, py)
    t0 = asyncio.get_running_loop().time()
    ack = await node.command(
        "remoteSocket", sid=target["sid"], op="emit", args=["ack-me-single"], timeoutMs=3000
    )
    assert asyncio.get_running_loop().time() - t0 < 2.0
    assert ack == {"client": target["cid"], "ev": "ack-me-single"}
    await settle(py, node, [target["cid"], other["cid"]])
    assert who_got(node, "ack-me-single", [target["cid"], other["cid"]]) == {target["cid"]: 1}


async def test_call_a_client_of_the_node_node(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``sio.call(event, to=sid)`` of a client connected to the Node node: its ack comes back (an ack
    broadcast to that sid only), at once."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    target, other = await connect(node, node), await connect(node, node)
    t0 = asyncio.get_running_loop().time()
    answer = await py.sio.call("ack-me-call", 1, to=target["sid"], timeout=3)
    assert asyncio.get_running_loop().time() - t0 < 2.0
    assert answer == {"client": target["cid"], "ev": "ack-me-call"}
    await settle(py, node, [target["cid"], other["cid"]])
    assert who_got(node, "ack-me-call", [target["cid"], other["cid"]]) == {target["cid"]: 1}


@pytest.mark.parametrize("sender", ["node", "py"])
async def test_local_broadcasts_stay_on_their_node(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    aiosio_node: LocalFactory,
    monitor: Any,
    sender: str,
) -> None:
    """A local broadcast (Node's ``io.local``, aiosio's ``ignore_queue=True``) reaches the sender's
    own clients only, and is never published."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    src, other = sender_and_other(node, py, sender)
    mine, theirs = await connect(node, src), await connect(node, other)
    async with monitor(redis_server.url) as mon:
        await src.command("emit", event="only-here", local=True)
        await mon.sync()
    await settle(src, node, [mine["cid"], theirs["cid"]])
    assert who_got(node, "only-here", [mine["cid"], theirs["cid"]]) == {mine["cid"]: 1}
    assert mon.published() == []


async def test_ignore_queue_disconnect_of_a_remote_sid_does_nothing(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``sio.disconnect(sid, ignore_queue=True)`` is python-socketio's "this server only": the sid of
    a client of the Node node is not disconnected (without the flag it is)."""
    node, py = await pair(node_cluster_node, aiosio_node, redis_server.url)
    target = await connect(node, node)
    await py.sio.disconnect(target["sid"], ignore_queue=True)
    await settle(py, node, [target["cid"]])
    assert node.unclaimed({"event": "client-disconnect"}) == []
    await py.sio.disconnect(target["sid"])
    ev = await node.next_event({"event": "client-disconnect", "cid": target["cid"]})
    assert ev["reason"] == "io server disconnect"
