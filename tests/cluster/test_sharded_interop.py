"""The sharded Redis adapter (Node's ``createShardedAdapter``) across languages, on a standalone Redis 7:
an aiosio node (in-process, ``AsyncRedisManager(mode="sharded")``) and Node socket.io nodes on
@socket.io/redis-adapter 8.3.0 form one cluster, in every subscription mode (CLUSTER-WIRE.md §2, §3,
§7.3, the matrix of §8): server count, broadcasts both ways (a room, everyone, except, two rooms,
``/admin``, binary), fetch sockets and the remote socket's operations, server-side emits, broadcasts
with acks aggregated over both nodes, remote join/leave/disconnect, a frozen and a killed Node node,
and what the aiosio node SSUBSCRIBEs and SPUBLISHes on which channel.

Clients are npm socket.io-client 4.8.4 inside the Node process, connected to either server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aiosio
from aiosio.exceptions import AcksMissingError

from .classic_support import py_process
from .conftest import NodeFactory
from .monitor import RedisMonitor
from .node_peer import NodeCommandError, NodePeer
from .redis_fixtures import RedisServer
from .sharded_nodes import HELLO_ARGS, AioNode, got, mark, start_aio_node, wait_count

__all__ = ["py_process"]  # a fixture used here

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]

MODES = ["static", "dynamic", "dynamic-private"]


async def setup_pair(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, mode: str = "dynamic"
) -> tuple[AioNode, NodePeer]:
    """A fresh Redis, then a Node node and an aiosio node in ``mode``."""
    redis_server.flush()
    node = await node_cluster_node("sharded", redis_server.url, subscriptionMode=mode)
    py = await start_aio_node(serve, redis_server.url, mode)
    return py, node


async def clients(
    node: NodePeer, py: AioNode, *, py_rooms: tuple[str, ...] = (), node_rooms: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Node client on the aiosio server (in ``py_rooms``) and one on the Node server (in
    ``node_rooms``); both nodes' room subscriptions are in place when this returns."""
    on_py = await node.client(py.url, transports=["websocket"])
    on_node = await node.client(node.url, transports=["websocket"])
    for room in py_rooms:
        await py.sio.enter_room(on_py["sid"], room)
    if node_rooms:
        await node.command("join", sid=on_node["sid"], rooms=list(node_rooms))
    await py.settle()
    return on_py, on_node


# ----------------------------------------------------------------------------------------- server count


@pytest.mark.parametrize("mode", MODES)
async def test_server_count_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, mode: str
) -> None:
    """SHARDNUMSUB of the main channel counts each node once, from both sides and per namespace; a
    second aiosio node makes it 3, and its shutdown takes it back to 2 at once."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve, mode)
    assert await py.sio.server_count() == 2
    assert await py.sio.server_count(namespace="/admin") == 2
    assert await node.command("serverCount") == 2
    assert await node.command("serverCount", nsp="/admin") == 2
    second = await start_aio_node(serve, redis_server.url, mode)
    assert await node.command("serverCount") == 3 and await py.sio.server_count() == 3
    await second.sio.shutdown()
    await wait_count(py.sio.server_count, 2, timeout=2)
    assert await node.command("serverCount") == 2
    client = redis_server.client()
    try:
        reply = client.execute_command("PUBSUB", "SHARDNUMSUB", "socket.io#/#")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    assert reply[1] == 2  # the aiosio node holds one subscription however many namespaces it serves


# ----------------------------------------------------------------------------------------- broadcasts


async def test_room_broadcast_uses_the_room_channel_in_dynamic_mode(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """dynamic: the aiosio node SSUBSCRIBEs ``socket.io#/#r1#`` when r1 gets its first member here
    and SUNSUBSCRIBEs it when r1 empties, never a sid room; a broadcast to r1 from either side goes
    out on the room channel and reaches the members of both nodes exactly once, nobody else."""
    async with RedisMonitor(redis_server.url) as mon:
        py, node = await setup_pair(redis_server, node_cluster_node, serve, "dynamic")
        on_py, on_node = await clients(node, py, py_rooms=("r1",), node_rooms=("r1",))
        outsider = await node.client(py.url, transports=["websocket"])
        await py.sio.emit("hello", tuple(HELLO_ARGS), to="r1")
        await node.command("emit", event="hello-node", args=HELLO_ARGS, rooms="r1")
        for cid in (on_py["cid"], on_node["cid"]):
            await node.next_event({"event": "client-event", "cid": cid, "name": "hello"})
            await node.next_event({"event": "client-event", "cid": cid, "name": "hello-node"})
        await mark(lambda: py.sio.emit("mark"), node, on_node["cid"], outsider["cid"])
        await mark(lambda: node.command("emit", event="mark"), node, on_py["cid"], outsider["cid"])
        await py.sio.leave_room(on_py["sid"], "r1")
        await py.settle()
        await mon.sync()
    for cid in (on_py["cid"], on_node["cid"]):
        assert [e["args"] for e in got(node, cid, "hello")] == [HELLO_ARGS]
        assert [e["args"] for e in got(node, cid, "hello-node")] == [HELLO_ARGS]
    assert not got(node, outsider["cid"], "hello") and not got(node, outsider["cid"], "hello-node")
    py_conn = subscriber_of(mon, py.uid)
    mine = [c for c in mon.commands if c.client == py_conn and c.name in ("SSUBSCRIBE", "SUNSUBSCRIBE")]
    rooms = [(c.name, c.args[0]) for c in mine if c.args[0] not in own_channels(py.uid)]
    assert rooms == [("SSUBSCRIBE", b"socket.io#/#r1#"), ("SUNSUBSCRIBE", b"socket.io#/#r1#")]
    [sent] = [c for c in mon.published() if c.decoded().get("uid") == py.uid and is_event(c, "hello")]
    assert (sent.name, sent.channel) == ("SPUBLISH", b"socket.io#/#r1#")


def own_channels(uid: str) -> set[bytes]:
    """The main and own channels of ``/`` and ``/admin`` for the node ``uid``."""
    return {f"socket.io#{ns}#{suffix}".encode() for ns in ("/", "/admin") for suffix in ("", f"{uid}#")}


def subscriber_of(mon: RedisMonitor, uid: str) -> str:
    """The client address of the connection that SSUBSCRIBEd the node's own channel."""
    [client] = {cmd.client for cmd in mon.select("SSUBSCRIBE", channel=f"socket.io#/#{uid}#")}
    return client


def is_event(cmd: Any, name: str) -> bool:
    """Whether a SPUBLISH is a BROADCAST of event ``name``."""
    msg = cmd.decoded()
    return bool(msg.get("type") == 3 and msg["data"]["packet"]["data"][0] == name)


@pytest.mark.parametrize("mode", MODES)
async def test_broadcast_sets_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, mode: str
) -> None:
    """To everyone, except a room, to two rooms, to ``/admin``, to a sid on the other node: from the
    aiosio node and from the Node node, each client gets exactly what it is selected for, once."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve, mode)
    a, b = await clients(node, py, py_rooms=("r1",), node_rooms=("r2",))
    c, d = await clients(node, py)  # in no room
    admin_py = await node.client(py.url, nsp="/admin", transports=["websocket"])
    admin_node = await node.client(node.url, nsp="/admin", transports=["websocket"])
    everyone = {a["cid"], b["cid"], c["cid"], d["cid"]}
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("all", {}, everyone),
        ("except-r1", {"except": ["r1"]}, everyone - {a["cid"]}),
        ("except-r2", {"except": ["r2"]}, everyone - {b["cid"]}),
        ("two-rooms", {"rooms": ["r1", "r2"]}, {a["cid"], b["cid"]}),
        ("to-sid-py", {"rooms": [c["sid"]]}, {c["cid"]}),
        ("to-sid-node", {"rooms": [d["sid"]]}, {d["cid"]}),
    ]
    for name, sel, _ in cases:
        await py.sio.emit(f"py-{name}", 1, to=sel.get("rooms"), skip_sid=sel.get("except"))
        await node.command("emit", event=f"node-{name}", args=[1], **sel)
    await py.sio.emit("py-admin", 2, namespace="/admin")
    await node.command("emit", event="node-admin", args=[2], nsp="/admin")
    await mark(lambda: py.sio.emit("mark"), node, *everyone)
    await mark(lambda: node.command("emit", event="mark"), node, *everyone)
    for side in ("py", "node"):
        for name, _, want in cases:
            have = {cid for cid in everyone if got(node, cid, f"{side}-{name}")}
            assert have == want, (side, name)
            assert all(len(got(node, cid, f"{side}-{name}")) == 1 for cid in want)
        for cid in (admin_py["cid"], admin_node["cid"]):
            await node.next_event({"event": "client-event", "cid": cid, "name": f"{side}-admin", "args": [2]})
        assert not any(got(node, cid, f"{side}-admin") for cid in everyone)


@pytest.mark.parametrize(
    ("mode", "room_channel", "sid_channel"),
    [("static", False, False), ("dynamic", True, False), ("dynamic-private", True, True)],
)
async def test_what_each_mode_subscribes_and_publishes(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    serve: Any,
    mode: str,
    room_channel: bool,
    sid_channel: bool,
) -> None:
    """The channels of the aiosio node per mode, as Node's: a public room's channel in the dynamic
    modes only, a socket's own sid channel in dynamic-private only, SSUBSCRIBEd and SPUBLISHed alike;
    and a Node RemoteSocket.emit to the aiosio socket (published on the sid channel in
    dynamic-private) arrives."""
    async with RedisMonitor(redis_server.url) as mon:
        py, node = await setup_pair(redis_server, node_cluster_node, serve, mode)
        on_py, on_node = await clients(node, py, py_rooms=("r1",))
        await py.sio.emit("to-room", to="r1")
        await py.sio.emit("to-sid", to=on_node["sid"])
        await node.command("remoteSocket", sid=on_py["sid"], op="emit", args=["remote-emit", 7])
        await node.next_event({"event": "client-event", "cid": on_py["cid"], "name": "to-room"})
        await node.next_event({"event": "client-event", "cid": on_node["cid"], "name": "to-sid"})
        await node.next_event(
            {"event": "client-event", "cid": on_py["cid"], "name": "remote-emit", "args": [7]}
        )
        await mon.sync()
    conn = subscriber_of(mon, py.uid)
    subscribed = {c.args[0] for c in mon.select("SSUBSCRIBE") if c.client == conn} - own_channels(py.uid)
    want = set()
    if room_channel:
        want.add(b"socket.io#/#r1#")
    if sid_channel:
        want.add(f"socket.io#/#{on_py['sid']}#".encode())
    assert subscribed == want
    sent = {
        c.decoded()["data"]["packet"]["data"][0]: c for c in mon.published() if c.decoded().get("type") == 3
    }
    assert sent["to-room"].channel == (b"socket.io#/#r1#" if room_channel else b"socket.io#/#")
    assert sent["to-sid"].channel == (
        f"socket.io#/#{on_node['sid']}#".encode() if sid_channel else b"socket.io#/#"
    )
    remote = sent["remote-emit"]
    assert remote.channel == (f"socket.io#/#{on_py['sid']}#".encode() if sid_channel else b"socket.io#/#")
    assert remote.decoded()["data"]["opts"]["flags"] == {"expectSingleResponse": True}


async def test_binary_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """``bytes`` from the aiosio node reach a Node client as binary, nested too; Node's binary reaches
    a client of the aiosio node the same; each such broadcast is msgpack of the whole message."""
    async with RedisMonitor(redis_server.url) as mon:
        py, node = await setup_pair(redis_server, node_cluster_node, serve)
        on_py, on_node = await clients(node, py)
        payload = bytes(range(256))
        await py.sio.emit("bin-py", (payload, {"nested": b"hi", "k": "v"}))
        await node.command("emit", event="bin-node", args=[b"\x01\x02\x03", {"nested": b"", "k": "v"}])
        ev = await node.next_event({"event": "client-event", "cid": on_node["cid"], "name": "bin-py"})
        assert ev["args"] == [payload, {"nested": b"hi", "k": "v"}]
        ev = await node.next_event({"event": "client-event", "cid": on_py["cid"], "name": "bin-node"})
        assert ev["args"] == [b"\x01\x02\x03", {"nested": b"", "k": "v"}]
        await mon.sync()
    [sent] = [
        c for c in mon.published(b"socket.io#/#") if c.payload[:1] != b"{" and py.uid.encode() in c.payload
    ]
    assert sent.payload[:1] == b"\x84"  # a msgpack map of 4: {type, data, uid, nsp}
    assert sent.decoded()["data"]["packet"]["data"][1] == payload


# ----------------------------------------------------------------------------------------- fetch sockets


async def test_fetch_sockets_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """Node's fetchSockets gets the aiosio socket (id, rooms with its sid, data, Node's handshake
    shape), filtered by room; aiosio's fetch_sockets gets the Node socket with its data, complete."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    on_py, on_node = await clients(node, py, py_rooms=("r1",), node_rooms=("r1", "r2"))
    await py.sio.save_session(on_py["sid"], {"node": "py", "n": 1})
    await node.command("setData", sid=on_node["sid"], data={"node": "B", "blob": b"\x00\x01"})
    found = {s["id"]: s for s in await node.command("fetchSockets")}
    assert set(found) == {on_py["sid"], on_node["sid"]}
    mine = found[on_py["sid"]]
    assert sorted(mine["rooms"]) == sorted([on_py["sid"], "r1"]) and mine["data"] == {"node": "py", "n": 1}
    assert not mine["local"]
    assert list(mine["handshake"]) == [
        *["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"]
    ]
    assert mine["handshake"]["query"]["transport"] == "websocket"
    assert [s["id"] for s in await node.command("fetchSockets", rooms="r2")] == [on_node["sid"]]
    assert [s["id"] for s in await node.command("fetchSockets", rooms="r1", **{"except": "r2"})] == [
        on_py["sid"]
    ]
    answers = await py.sio.fetch_sockets(timeout=3)
    assert answers.complete and answers.missing_servers == ()
    theirs = {s.sid: s for s in answers}
    assert set(theirs) == {on_py["sid"], on_node["sid"]}
    remote = theirs[on_node["sid"]]
    assert not remote.local and remote.rooms == {on_node["sid"], "r1", "r2"}
    assert remote.data == {"node": "B", "blob": b"\x00\x01"}  # binary data: a msgpack answer
    assert remote.handshake["address"] == "127.0.0.1"
    assert [s.sid for s in await py.sio.fetch_sockets(to="r2", timeout=3)] == [on_node["sid"]]
    assert [s.sid for s in await py.sio.fetch_sockets(to="r1", skip_sid="r2", timeout=3)] == [on_py["sid"]]


async def test_remote_socket_operations_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """Node's RemoteSocket emit/join/leave/disconnect act on the aiosio socket, and aiosio's
    RemoteSocket on the Node socket (membership checked by the rooms each node then holds)."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    on_py, on_node = await clients(node, py)
    await node.command("remoteSocket", sid=on_py["sid"], op="join", args=["j1"])
    await wait_for(lambda: "j1" in py.sio.rooms(on_py["sid"]))
    await node.command("remoteSocket", sid=on_py["sid"], op="leave", args=["j1"])
    await wait_for(lambda: "j1" not in py.sio.rooms(on_py["sid"]))
    [remote] = [s for s in await py.sio.fetch_sockets(to=on_node["sid"], timeout=3)]
    await remote.emit("from-py-remote", ("x", 1))
    await node.next_event(
        {"event": "client-event", "cid": on_node["cid"], "name": "from-py-remote", "args": ["x", 1]}
    )
    await remote.join(["k1", "k2"])
    await wait_node_rooms(node, on_node["sid"], {"k1", "k2"})
    await remote.leave("k1")
    await wait_node_rooms(node, on_node["sid"], {"k2"})
    await remote.disconnect(close=True)
    ev = await node.next_event({"event": "client-disconnect", "cid": on_node["cid"]})
    assert ev["reason"] == "io server disconnect"
    await node.command("remoteSocket", sid=on_py["sid"], op="disconnect", args=[True])
    ev = await node.next_event({"event": "client-disconnect", "cid": on_py["cid"]})
    assert ev["reason"] == "io server disconnect"


async def wait_for(check: Any, timeout: float = 3.0) -> None:
    """Poll ``check()`` until it is true."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def wait_node_rooms(node: NodePeer, sid: str, rooms: set[str], nsp: str = "/") -> None:
    """Poll the Node node until its socket ``sid`` is in exactly ``rooms`` (besides its own)."""
    async with asyncio.timeout(3):
        while True:
            state = await node.command("localState", nsp=nsp)
            have = {room for room, sids in state["rooms"].items() if sid in sids and room != sid}
            if have == rooms:
                return
            await asyncio.sleep(0.02)


# ----------------------------------------------------------------------------------------- server-side emit


async def test_server_side_emit_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """Without ack: the other node's handler runs, never the sender's. With ack: each side gets the
    other's answer (the first ack argument); an event the Node node has no handler for leaves the
    aiosio call with ``missing == 1`` naming that node, after its timeout, not an error."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    await py.sio.server_side_emit("hello-servers", "x", 1)
    ev = await node.next_event({"event": "server-side", "name": "hello-servers"})
    assert ev["args"] == ["x", 1] and not ev["ack"]
    await node.command("serverSideEmit", event="hello-servers", args=["y", 2])
    await wait_for(lambda: ("hello-servers", ["y", 2]) in py.server_events)
    assert await node.command("serverSideEmitWithAck", event="ping-servers", args=["z"]) == [
        {"node": "py", "got": ["z"]}
    ]
    await node.command("onServerSide", event="ping-node", reply={"node": "B", "bin": b"\x07"})
    answers = await py.sio.server_side_call("ping-node", 3, timeout=3)
    assert list(answers) == [{"node": "B", "bin": b"\x07"}] and answers.complete
    t0 = time.monotonic()
    silent = await py.sio.server_side_call("no-handler", timeout=0.5)
    assert list(silent) == [] and silent.missing == 1 and 0.4 < time.monotonic() - t0 < 2
    assert silent.missing_servers == (node.uids["/"],)


# ----------------------------------------------------------------------------------------- acks


async def test_emit_with_ack_aggregated_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """A broadcast with acks collects the acks of the clients of both nodes, from either side; a node
    with no matching client answers ``clientCount: 0`` at once, so the call ends with the acks instead
    of waiting for its timeout."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    on_py, on_node = await clients(node, py, py_rooms=("r1",), node_rooms=("r1", "r2"))
    acks = await py.sio.emit_with_ack("ack-me", 1, timeout=3)
    assert sorted(a["client"] for a in acks) == sorted([on_py["cid"], on_node["cid"]])
    reply = await node.send("emitWithAck", event="ack-me", args=["q"], timeoutMs=3000)
    assert sorted(a["client"] for a in reply["result"]) == sorted([on_py["cid"], on_node["cid"]])
    t0 = time.monotonic()
    only_node = await py.sio.emit_with_ack("ack-me-r2", None, to="r2", timeout=3)
    assert [a["client"] for a in only_node] == [on_node["cid"]] and time.monotonic() - t0 < 1
    reply = await node.send("emitWithAck", event="ack-me-r2", rooms="r2", timeoutMs=3000)
    assert [a["client"] for a in reply["result"]] == [on_node["cid"]] and reply["ms"] < 1000
    nobody = await node.send("emitWithAck", event="ack-me-none", rooms="nobody", timeoutMs=3000)
    assert nobody["result"] == [] and nobody["ms"] < 1000


# ------------------------------------------------------------------------------ remote join/leave/disconnect


async def test_sockets_join_leave_disconnect_both_ways(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """socketsJoin/socketsLeave from either side change membership on the other (checked by a room
    broadcast from the side that did not join); disconnectSockets(close) closes the remote clients."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    on_py, on_node = await clients(node, py, py_rooms=("base",), node_rooms=("base",))
    await node.command("socketsJoin", rooms="base", join="joined")
    await wait_for(lambda: "joined" in py.sio.rooms(on_py["sid"]))
    await py.settle()
    await node.command("emit", event="in-joined", rooms="joined")
    await node.next_event({"event": "client-event", "cid": on_py["cid"], "name": "in-joined"})
    await py.sio.sockets_join("py-joined", to="base")
    await wait_node_rooms(node, on_node["sid"], {"base", "joined", "py-joined"})
    await py.sio.emit("in-py-joined", to="py-joined")
    await node.next_event({"event": "client-event", "cid": on_node["cid"], "name": "in-py-joined"})
    await node.command("socketsLeave", leave="joined")
    await wait_for(lambda: "joined" not in py.sio.rooms(on_py["sid"]))
    await wait_node_rooms(node, on_node["sid"], {"base", "py-joined"})
    await py.sio.sockets_leave("py-joined")
    await wait_node_rooms(node, on_node["sid"], {"base"})
    await py.sio.disconnect_sockets(to="base", close=True)
    for cid in (on_py["cid"], on_node["cid"]):
        ev = await node.next_event({"event": "client-disconnect", "cid": cid})
        assert ev["reason"] == "io server disconnect"
    again = await node.client(py.url, transports=["websocket"])
    await node.command("disconnectSockets", close=True)
    ev = await node.next_event({"event": "client-disconnect", "cid": again["cid"]})
    assert ev["reason"] == "io server disconnect"


# ----------------------------------------------------------------------------------------- dead nodes


async def test_frozen_node_gives_partial_results(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """SIGSTOP the Node node: it stays counted, and the aiosio node's fetch, server-side call and
    broadcast with acks end at their timeout with what arrived (its own sockets, none from the frozen
    node), ``missing == 1`` naming the frozen node's uid, instead of failing; after SIGCONT, its late
    answers are ignored and a new query is complete again."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    on_node = await node.client(node.url, transports=["websocket"])
    client = aiosio.AsyncClient()  # in this process: it answers while the Node process is frozen
    client.on("ack-me", lambda *args: {"client": "py"})
    await client.connect(py.url, transports=["websocket"])
    await node.command("onServerSide", event="ping-node", reply="B")
    assert (await py.sio.fetch_sockets(timeout=3)).complete  # the cluster's servers are known now
    node.freeze()
    try:
        assert await py.sio.server_count() == 2
        t0 = time.monotonic()
        found = await py.sio.fetch_sockets(timeout=0.5)
        assert 0.4 < time.monotonic() - t0 < 2
        assert [s.sid for s in found] == [client.get_sid()]
        assert found.missing == 1 and not found.complete
        assert found.missing_servers == (node.uids["/"],)
        answers = await py.sio.server_side_call("ping-node", timeout=0.5)
        assert list(answers) == [] and answers.missing == 1
        assert answers.missing_servers == (node.uids["/"],)
        with pytest.raises(AcksMissingError) as info:
            await py.sio.emit_with_ack("ack-me", None, timeout=0.5)
        assert info.value.responses == [{"client": "py"}]
    finally:
        node.thaw()
        await client.disconnect()
    await asyncio.sleep(0.2)  # the late answers arrive and are dropped
    found = await py.sio.fetch_sockets(timeout=3)
    assert found.complete and [s.sid for s in found] == [on_node["sid"]]


async def test_frozen_aiosio_node_makes_node_time_out_and_aiosio_report_it(
    redis_server: RedisServer, node_cluster_node: NodeFactory, py_process: Any, serve: Any
) -> None:
    """An aiosio node as a process, SIGSTOPped: it stays counted, so the Node node's fetchSockets
    rejects at its timeout with Node's own text (Node's behaviour, unchanged), while another aiosio
    node's fetch returns the Node node's sockets with the frozen one named missing."""
    redis_server.flush()
    node = await node_cluster_node("sharded", redis_server.url)
    frozen = await py_process(redis_server.url, profile="sharded")
    py = await start_aio_node(serve, redis_server.url)
    on_node = await node.client(node.url, transports=["websocket"])
    assert await node.command("serverCount") == 3
    assert (await py.sio.fetch_sockets(timeout=3)).complete
    frozen.freeze()
    try:
        with pytest.raises(NodeCommandError) as info:
            await node.command("fetchSockets", timeoutMs=500)
        assert info.value.message == "timeout reached: only 1 responses received out of 2"
        found = await py.sio.fetch_sockets(timeout=0.5)
        assert [s.sid for s in found] == [on_node["sid"]]
        assert found.missing == 1 and found.missing_servers == (frozen.uids["/"],)
    finally:
        frozen.thaw()
    assert [s["id"] for s in await node.command("fetchSockets", timeoutMs=3000)] == [on_node["sid"]]
    assert (await py.sio.fetch_sockets(timeout=3)).complete


async def test_killed_node_leaves_the_count(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """SIGKILL the Node node: SHARDNUMSUB drops, and the aiosio node's queries return at once with
    its own answers, complete."""
    py, node = await setup_pair(redis_server, node_cluster_node, serve)
    client = aiosio.AsyncClient()  # in this process: it outlives the Node node
    await client.connect(py.url, transports=["websocket"])
    try:
        await node.kill()
        await wait_count(py.sio.server_count, 1)
        t0 = time.monotonic()
        found = await py.sio.fetch_sockets()
        answers = await py.sio.server_side_call("ping-node")
        assert time.monotonic() - t0 < 0.5
        assert [s.sid for s in found] == [client.get_sid()] and found.complete
        assert list(answers) == [] and answers.complete
    finally:
        await client.disconnect()


async def test_node_requests_wait_for_a_node_with_nothing_to_say(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """The aiosio node answers every Node query even with nothing in it (fetch ``sockets: []``), so
    Node never waits for its timeout because of it."""
    _, node = await setup_pair(redis_server, node_cluster_node, serve)
    reply = await node.send("fetchSockets", rooms="nobody", timeoutMs=3000)
    assert reply["ok"] and reply["result"] == [] and reply["ms"] < 1000
