"""Self-tests of the cluster harness: Node socket.io nodes on @socket.io/redis-adapter over a real Redis.

They prove the fixtures the interop matrix is written on (CLUSTER-WIRE.md §8) behave like the lab
harness the captures came from: the node count, a room broadcast crossing nodes exactly once, what
MONITOR shows byte for byte, fetchSockets and server-side acks across nodes, the sharded profile, a
frozen node's timeout with Node's text, and a Redis restart.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from .conftest import NodeFactory
from .monitor import ClusterMonitor, RedisMonitor, decode_payload, pack, parse_line, split_args
from .node_peer import NodeCommandError, NodePeer
from .redis_fixtures import RedisClusterServers, RedisServer

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]

HELLO_ARGS: list[Any] = ["world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


async def client_in_room(node: NodePeer, url: str, *rooms: str) -> dict[str, Any]:
    """An in-process client of *node* connected to *url*, joined to *rooms* on the node that holds it."""
    info = await node.client(url, transports=["websocket"])
    if rooms:
        # the socket lives on the server at url: that node (which must be *node* here) joins it locally
        await node.command("join", sid=info["sid"], rooms=list(rooms))
    return info


async def settle_clients(sender: NodePeer, holder: NodePeer, *cids: str) -> None:
    """Broadcast ``mark`` from *sender* and wait until each client in *holder* got it.

    The sender's PUBLISHes leave on one Redis connection, and each client's events on one socket, in
    order: once ``mark`` arrived, anything *sender* broadcast before it has arrived too.
    """
    await sender.command("emit", event="mark")
    for cid in cids:
        await holder.next_event({"event": "client-event", "cid": cid, "name": "mark"})


def got(node: NodePeer, cid: str, name: str) -> list[dict[str, Any]]:
    """Every ``client-event`` *name* client *cid* of *node* received so far."""
    return [e for e in node.events if e["event"] == "client-event" and e["cid"] == cid and e["name"] == name]


async def pair(
    node_cluster_node: NodeFactory, url: str | None, profile: str = "classic", **opts: Any
) -> list[NodePeer]:
    """Two nodes A and B of *profile* on the Redis at *url*."""
    return [await node_cluster_node(profile, url, name=name, **opts) for name in "AB"]


# ----------------------------------------------------------------------------------------- MONITOR parsing


def test_monitor_line_parsing_recovers_raw_bytes() -> None:
    """sdscatrepr escapes (\\xHH, \\", \\\\, \\n, \\r, \\t, \\a, \\b) come back as the exact bytes."""
    line = (
        b'+1796114798.748093 [0 127.0.0.1:54886] "PUBLISH" "socket.io#/#r1#" '
        b'"\\x93\\xa6LGuaOj\\x83\\xa4type\\x02 \\"q\\" \\\\ \\n\\r\\t\\a\\b"'
    )
    cmd = parse_line(line)
    assert (cmd.time, cmd.db, cmd.client, cmd.name) == (1796114798.748093, 0, "127.0.0.1:54886", "PUBLISH")
    assert cmd.channel == b"socket.io#/#r1#"
    assert cmd.payload == b'\x93\xa6LGuaOj\x83\xa4type\x02 "q" \\ \n\r\t\x07\x08'
    assert split_args(b'"a" "" "\\x00\\xff"') == [b"a", b"", b"\x00\xff"]


async def test_monitor_records_exact_bytes(redis_server: RedisServer) -> None:
    """Every byte value 0..255 published by a client comes out of the recorder unchanged."""
    payload = bytes(range(256)) + 'é"\\'.encode()
    async with RedisMonitor(redis_server.url) as mon:
        client = redis_server.client()
        try:
            await asyncio.to_thread(client.publish, b"chan\x00nel", payload)
        finally:
            client.close()
        await mon.sync()
        [cmd] = mon.published(b"chan\x00nel")
        assert cmd.payload == payload
        assert not [c for c in mon.commands if c.name == "ECHO"]  # the sync markers are not recorded


# ----------------------------------------------------------------------------------------- classic pair


async def test_classic_pair_counts_two_servers(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """Two classic nodes on one Redis: serverCount() is 2 on both, in both namespaces (NUMSUB)."""
    a, b = await pair(node_cluster_node, redis_server.url)
    for node in (a, b):
        assert await node.command("serverCount") == 2
        assert await node.command("serverCount", nsp="/admin") == 2
        assert len(node.uids["/"]) == 6 and node.uids["/"] != node.uids["/admin"]
    numsub = await b.command("redisCommand", args=["PUBSUB", "NUMSUB", "socket.io-request#/#"])
    assert numsub == ["socket.io-request#/#", 2]


async def test_classic_room_broadcast_crosses_nodes_once(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """A client on A in r1 gets B's emit to r1 exactly once, a non-member none; MONITOR shows the
    PUBLISH on ``socket.io#/#r1#`` with exactly the msgpack bytes of CLUSTER-WIRE §1.2's shape."""
    a, b = await pair(node_cluster_node, redis_server.url)
    member = await client_in_room(a, a.url, "r1")
    other = await client_in_room(a, a.url)
    async with RedisMonitor(redis_server.url) as mon:
        await b.command("emit", event="hello", args=HELLO_ARGS, rooms="r1")
        ev = await a.next_event({"event": "client-event", "cid": member["cid"], "name": "hello"})
        assert ev["args"] == HELLO_ARGS
        await settle_clients(b, a, member["cid"], other["cid"])
        await mon.sync()
    assert len(got(a, member["cid"], "hello")) == 1
    assert got(a, other["cid"], "hello") == []
    [cmd] = mon.published("socket.io#/#r1#")
    expected = [
        b.uids["/"],
        {"type": 2, "data": ["hello", *HELLO_ARGS], "nsp": "/"},
        {"rooms": ["r1"], "except": [], "flags": {}},
    ]
    assert cmd.decoded() == expected
    assert cmd.payload == pack(expected)  # byte for byte: key order type, data, nsp / rooms, except, flags
    assert b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00" in cmd.payload  # 1.5 as float64, like the capture
    # the mark went to everyone: the plain broadcast channel, not a room channel
    [mark] = mon.published("socket.io#/#")
    assert decode_payload(mark.payload)[2] == {"rooms": [], "except": [], "flags": {}}


async def test_classic_binary_arg_reaches_remote_client(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """bytes in a command go out as a Buffer, cross Redis as msgpack bin, and come back as bytes."""
    a, b = await pair(node_cluster_node, redis_server.url)
    c = await client_in_room(a, a.url)
    async with RedisMonitor(redis_server.url) as mon:
        await b.command("emit", event="bin", args=[b"\x01\x02\x03", {"nested": b"hi", "k": "v"}])
        ev = await a.next_event({"event": "client-event", "cid": c["cid"], "name": "bin"})
        await mon.sync()
    assert ev["args"] == [b"\x01\x02\x03", {"nested": b"hi", "k": "v"}]
    [cmd] = mon.published("socket.io#/#")
    assert b"\xc4\x03\x01\x02\x03" in cmd.payload and b"\xc4\x02hi" in cmd.payload


async def test_classic_fetch_sockets_sees_remote_socket(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """fetchSockets on B returns A's socket with its id, rooms, data and handshake; remoteSocket ops act
    on it across the cluster."""
    a, b = await pair(node_cluster_node, redis_server.url)
    c = await client_in_room(a, a.url, "r1")
    await a.command("setData", sid=c["sid"], data={"node": "A", "n": 1})
    sockets = await b.command("fetchSockets")
    [remote] = [s for s in sockets if s["id"] == c["sid"]]
    assert remote["local"] is False
    assert sorted(remote["rooms"]) == sorted([c["sid"], "r1"])
    assert remote["data"] == {"node": "A", "n": 1}
    assert {"headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"} <= set(
        remote["handshake"]
    )
    assert await b.command("fetchSockets", rooms="nobody-here") == []
    await b.command("remoteSocket", sid=c["sid"], op="emit", args=["direct", 7])
    ev = await a.next_event({"event": "client-event", "cid": c["cid"], "name": "direct"})
    assert ev["args"] == [7]
    await b.command("remoteSocket", sid=c["sid"], op="disconnect", args=[True])
    ev = await a.next_event({"event": "client-disconnect", "cid": c["cid"]})
    assert ev["reason"] == "io server disconnect"


async def test_classic_server_side_emit_with_ack(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """serverSideEmitWithAck from B gets A's reply; A reports the server-side event it received."""
    a, b = await pair(node_cluster_node, redis_server.url)
    await a.command("onServerSide", event="hello-servers", reply={"node": "A"})
    assert await b.command("serverSideEmitWithAck", event="hello-servers", args=["y"]) == [{"node": "A"}]
    ev = await a.next_event({"event": "server-side", "name": "hello-servers"})
    assert ev["args"] == ["y"] and ev["ack"] is True
    await b.command("serverSideEmit", event="no-ack", args=["x", 1])
    ev = await a.next_event({"event": "server-side", "name": "no-ack"})
    assert ev["args"] == ["x", 1] and ev["ack"] is False
    assert b.unclaimed({"event": "server-side"}) == []  # never delivered to the sender itself


async def test_timeouts_give_nodes_error_texts(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """Rejections come back as ``{"error", "responses"}`` with Node's texts: a server-side emit nobody
    acks (classic requestsTimeout), a broadcast a client never acks (flags.timeout)."""
    a, b = await pair(node_cluster_node, redis_server.url, requestsTimeout=500)
    c = await client_in_room(a, a.url)
    assert await b.command("serverSideEmitWithAck", event="nobody-acks") == {
        "error": "timeout reached: only 0 responses received out of 1",
        "responses": [],
    }
    assert await b.command("emitWithAck", event="not-acked", timeoutMs=300) == {
        "error": "operation has timed out",
        "responses": [],
    }
    ev = await a.next_event({"event": "client-event", "cid": c["cid"], "name": "not-acked"})
    assert ev["ack"] is True  # it was asked for an ack, and did not give one (no ack-me prefix)


async def test_in_process_client_acks_and_emits(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """``ack-me*`` events are acked by the in-process client; emitWithAck across nodes collects them;
    clientEmit with ack gets the server's answer."""
    a, b = await pair(node_cluster_node, redis_server.url)
    c = await client_in_room(a, a.url)
    answer = await b.command("emitWithAck", event="ack-me-please", args=["q"], timeoutMs=2000)
    assert answer == [{"client": c["cid"], "ev": "ack-me-please"}]
    assert await a.command("clientEmit", cid=c["cid"], event="up", args=[1], ack=True) == [
        {"server": "A", "ev": "up"}
    ]
    ev = await a.next_event({"event": "socket-event", "name": "up"})
    assert ev["sid"] == c["sid"] and ev["args"] == [1]


# ----------------------------------------------------------------------------------------- sharded


async def test_sharded_pair_on_standalone_redis(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """Sharded (dynamic) nodes on standalone Redis 7: serverCount 2 (SHARDNUMSUB); a room broadcast from
    B reaches A's member once, over the room's own SPUBLISH channel A subscribed when r1 was created."""
    async with RedisMonitor(redis_server.url) as mon:
        a, b = await pair(node_cluster_node, redis_server.url, "sharded", subscriptionMode="dynamic")
        assert await a.command("serverCount") == 2 and await b.command("serverCount") == 2
        assert len(a.uids["/"]) == 16
        member = await client_in_room(a, a.url, "r1")
        await mon.sync()
        assert mon.select("SSUBSCRIBE", channel="socket.io#/#r1#")  # subscribed before join replied
        await b.command("emit", event="hello", args=HELLO_ARGS, rooms="r1")
        await a.next_event({"event": "client-event", "cid": member["cid"], "name": "hello"})
        await settle_clients(b, a, member["cid"])
        await mon.sync()
    assert len(got(a, member["cid"], "hello")) == 1
    [cmd] = mon.published("socket.io#/#r1#")
    assert cmd.name == "SPUBLISH"
    assert cmd.decoded() == {
        "type": 3,
        "data": {
            "packet": {"type": 2, "data": ["hello", *HELLO_ARGS]},
            "opts": {"rooms": ["r1"], "except": [], "flags": {}},
        },
        "uid": b.uids["/"],
        "nsp": "/",
    }


async def test_join_reply_waits_for_the_room_subscription(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """A reply comes only after Redis confirmed the adapter's (un)subscriptions: with Redis paused, A's
    ``join`` of a new room (a dynamic-mode SSUBSCRIBE) answers only once the pause is over, and an emit
    from B right after it reaches the member."""
    a, b = await pair(node_cluster_node, redis_server.url, "sharded", subscriptionMode="dynamic")
    c = await client_in_room(a, a.url)
    client = redis_server.client()
    try:
        client.execute_command("CLIENT", "PAUSE", "400", "ALL")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    reply = await a.send("join", sid=c["sid"], rooms="fresh-room")
    assert reply["ok"] and reply["ms"] >= 300, reply
    await b.command("emit", event="in-room", rooms="fresh-room")
    await a.next_event({"event": "client-event", "cid": c["cid"], "name": "in-room"})


# ----------------------------------------------------------------------------------------- dead nodes


@pytest.mark.parametrize(
    ("profile", "opts", "fetch", "error"),
    [
        ("classic", {"requestsTimeout": 1000}, {}, "timeout reached while waiting for fetchSockets response"),
        ("sharded", {}, {"timeoutMs": 1000}, "timeout reached: only 0 responses received out of 1"),
    ],
)
async def test_frozen_node_times_out_fetch(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    profile: str,
    opts: dict[str, Any],
    fetch: dict[str, Any],
    error: str,
) -> None:
    """SIGSTOP A: it stays counted, and B's fetchSockets rejects after the timeout with Node's text;
    SIGCONT: A answers again."""
    a, b = await pair(node_cluster_node, redis_server.url, profile, **opts)
    a.freeze()
    try:
        assert await b.command("serverCount") == 2  # Redis still counts the frozen subscriber
        with pytest.raises(NodeCommandError) as info:
            await b.command("fetchSockets", **fetch)
        assert info.value.message == error
        assert 900 <= info.value.reply["ms"] < 3000
        with pytest.raises(NodeCommandError, match="frozen"):
            await a.command("serverCount", timeout=0.3)
    finally:
        a.thaw()
    assert await b.command("fetchSockets", **fetch) == []


async def test_killed_node_leaves_the_count(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """SIGKILL A: its pid is gone, the count drops to 1, and B's fetch answers at once."""
    a, b = await pair(node_cluster_node, redis_server.url)
    await a.kill()
    assert a.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(a.pid, 0)
    async with asyncio.timeout(5):
        while await b.command("serverCount") != 1:  # Redis notices the closed socket
            await asyncio.sleep(0.02)
    reply = await b.send("fetchSockets")
    assert reply["ok"] and reply["result"] == [] and reply["ms"] < 500


# ----------------------------------------------------------------------------------------- emitter


async def test_redis_emitter_reaches_node_clients(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """@socket.io/redis-emitter (uid "emitter") broadcasts reach clients; it never counts as a server."""
    a, b = await pair(node_cluster_node, redis_server.url)
    c = await client_in_room(a, a.url, "r1")
    async with RedisMonitor(redis_server.url) as mon:
        await b.command("emitter", event="from-emitter", args=[1], rooms="r1")
        ev = await a.next_event({"event": "client-event", "cid": c["cid"], "name": "from-emitter"})
        await mon.sync()
    assert ev["args"] == [1]
    [cmd] = mon.published("socket.io#/#r1#")
    assert cmd.decoded()[0] == "emitter"
    assert list(cmd.decoded()[2]) == ["rooms", "flags", "except"]  # the emitter's own key order (§1.8)
    assert await a.command("serverCount") == 2


# ----------------------------------------------------------------------------------------- Redis restart


async def test_redis_restart_same_port_nodes_resubscribe(
    redis_server: RedisServer, node_cluster_node: NodeFactory
) -> None:
    """restart() SIGKILLs redis-server and starts a new one on the same port; node-redis reconnects and
    resubscribes, so the count and cross-node broadcasts come back."""
    a, b = await pair(node_cluster_node, redis_server.url)
    c = await client_in_room(a, a.url, "r1")
    old_pid, port = redis_server.pid, redis_server.port
    await redis_server.restart_async()
    assert redis_server.pid != old_pid and redis_server.port == port
    client = redis_server.client()
    try:
        assert client.ping()
    finally:
        client.close()
    async with asyncio.timeout(6):
        while True:
            try:
                if await a.command("serverCount") == 2 and await b.command("serverCount") == 2:
                    break
            except NodeCommandError:
                pass  # a command on a client that is still reconnecting
            await asyncio.sleep(0.05)
    await b.command("emit", event="after-restart", rooms="r1")
    await a.next_event({"event": "client-event", "cid": c["cid"], "name": "after-restart"})
    assert [e for e in a.events + b.events if e["event"] == "fatal"] == []


# ----------------------------------------------------------------------------------------- Redis Cluster


@pytest.mark.timeout(30)  # the first one creates the session's Redis Cluster
@pytest.mark.parametrize("profile", ["classic", "sharded"])
async def test_pair_on_redis_cluster(
    redis_cluster: RedisClusterServers, node_cluster_node: NodeFactory, profile: str
) -> None:
    """A pair on a 3-master Redis Cluster (node-redis createCluster): serverCount sums (SHARD)NUMSUB over
    the masters to 2; a room broadcast, fetchSockets and serverSideEmitWithAck cross nodes."""
    assert len(set(redis_cluster.pids)) == 3
    a, b = await pair(node_cluster_node, None, profile, cluster=redis_cluster.urls)
    assert await a.command("serverCount") == 2 and await b.command("serverCount") == 2
    member = await client_in_room(a, a.url, "r1")
    async with ClusterMonitor(redis_cluster.urls) as mon:
        await b.command("emit", event="hello", args=HELLO_ARGS, rooms="r1")
        ev = await a.next_event({"event": "client-event", "cid": member["cid"], "name": "hello"})
        await mon.sync()
    assert ev["args"] == HELLO_ARGS
    [cmd] = mon.published("socket.io#/#r1#")
    if profile == "sharded":  # SPUBLISH runs on the master owning the channel's slot, and only there
        assert cmd.name == "SPUBLISH"
        owner = redis_cluster.nodes[0].client()
        try:
            slot = owner.execute_command("CLUSTER", "KEYSLOT", "socket.io#/#r1#")  # type: ignore[no-untyped-call]
            ranges = owner.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
        finally:
            owner.close()
        [port] = [r[2][1] for r in ranges if r[0] <= slot <= r[1]]
        assert mon.node_of(cmd) == f"redis://127.0.0.1:{port}"
    assert [s["id"] for s in await b.command("fetchSockets", rooms="r1")] == [member["sid"]]
    await a.command("onServerSide", event="ping-servers", reply="A")
    assert await b.command("serverSideEmitWithAck", event="ping-servers") == ["A"]
