"""Byte parity of the sharded adapter: what an aiosio node SPUBLISHes, on which channel, equals what
Node's sharded adapter published in the capture (/work/shared/cluster-captures/sharded.txt, kept in
tests/unit/cluster/captured.py) byte for byte, once uids and request ids are normalised and the
capture's socket id is replaced by this run's: every request type the aiosio node sends, and every
answer it gives to a Node node's requests (CLUSTER-WIRE.md §2, §3, §8 row 5)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from unit.cluster.captured import CAPTURED

from .conftest import NodeFactory
from .monitor import MonitorCommand, RedisMonitor
from .redis_fixtures import RedisServer
from .sharded_nodes import HELLO_ARGS, start_aio_node

pytestmark = [pytest.mark.interop, pytest.mark.timeout(15)]

SHARDED = [(channel, payload) for capture, _, channel, _, payload in CAPTURED if capture == "sharded"]
#: The capture's socket id of the client on the answering node (c2), replaced by this run's.
CAPTURED_SID = b"WbJdIQ_1vbR4KG3UAAAA"
#: What the aiosio node sends as a requester, in the capture's order (its message types 3-9), and
#: what it answers to the Node node's requests (10, 11, 12, 8).
REQUESTS = [0, 1, 2, 3, 5, 6, 9, 12, 14, 16, 17, 18, 20, 21, 22, 23]
ANSWERS = [7, 8, 19, 28, 29]

_IDS = re.compile(rb'("(?:uid|requestId)":")[0-9a-f]{16}"|(\xa3uid\xb0|\xa9requestId\xb0)[0-9a-f]{16}')
_CHANNEL = re.compile(rb"^(socket\.io#/#)[0-9a-f]{16}#$")


def normalised(channel: bytes, payload: bytes, sid: bytes) -> tuple[bytes, bytes]:
    """Uids and request ids (16 hex, in JSON or msgpack) zeroed, the capture's sid replaced."""

    def zero(m: re.Match[bytes]) -> bytes:
        head = m.group(1) or m.group(2)
        return head + b"0" * 16 + (b'"' if m.group(1) else b"")

    payload = _IDS.sub(zero, payload).replace(CAPTURED_SID, sid)
    return _CHANNEL.sub(rb"\g<1>" + b"0" * 16 + b"#", channel), payload


def expected(indices: list[int], sid: bytes) -> list[tuple[bytes, bytes]]:
    """The captured (channel, payload) pairs at ``indices`` of :data:`SHARDED`, normalised."""
    return [normalised(SHARDED[i][0].encode(), SHARDED[i][1], sid) for i in indices]


def sent_by(mon: RedisMonitor, uid: str, start: int = 0) -> list[MonitorCommand]:
    """The SPUBLISHes of the node ``uid`` (recorded from ``start``)."""
    return [c for c in mon.commands[start:] if c.name == "SPUBLISH" and c.decoded().get("uid") == uid]


async def test_aiosio_node_publishes_what_node_does(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """Broadcasts (a room on its channel, all, except, two rooms, binary as msgpack, ``/admin``), acked
    broadcasts, fetches, a fetched socket's emit, server-side emits, socketsJoin/Leave and
    disconnectSockets from the aiosio node; then its CLIENT_COUNT (1 and 0), BROADCAST_ACK,
    SERVER_SIDE_EMIT_RESPONSE and an empty FETCH_SOCKETS_RESPONSE to the Node node's own channel: all
    equal to the capture; a fetch answer describing a socket has Node's keys in Node's order."""
    redis_server.flush()
    node = await node_cluster_node("sharded", redis_server.url)
    py = await start_aio_node(serve, redis_server.url)
    py.sio.on_server_event("hello-servers", lambda *args: {"node": "B", "got": list(args)})
    await node.command("onServerSide", event="hello-servers", reply={"node": "A"})
    c2 = await node.client(py.url, cid="c2", ackPrefix="ping-ack", transports=["websocket"])
    await py.sio.enter_room(c2["sid"], "room1")
    await py.settle()
    # the socket the aiosio node's sid-targeted requests go to: on the Node node (a local one would
    # not be published at all)
    target = await node.client(node.url, ackPrefix="ping-ack", transports=["websocket"])
    sid = target["sid"].encode()
    async with RedisMonitor(redis_server.url) as mon:
        await py.sio.emit("hello", tuple(HELLO_ARGS), to="room1")
        await py.sio.emit("all", 42)
        await py.sio.emit("notroom1", "x", skip_sid="room1")
        await py.sio.emit("tworooms", to=["room1", "room2"])
        await py.sio.emit("bin", (b"\x01\x02\x03", {"nested": b"hi", "k": "v"}))
        assert len(await py.sio.emit_with_ack("ping-ack", "q", timeout=1)) == 2
        assert len(await py.sio.emit_with_ack("ping-ack", "r", to="room1", timeout=1)) == 1
        everyone = await py.sio.fetch_sockets()
        assert everyone.complete
        [remote] = [s for s in everyone if s.sid == target["sid"]]
        in_room = await py.sio.fetch_sockets(to="room1")
        assert in_room.complete and [s.sid for s in in_room] == [c2["sid"]]
        await remote.emit("direct", "to-you")  # a fetched socket's emit: expectSingleResponse
        await py.sio.server_side_emit("hello-servers", "x", 1)
        assert list(await py.sio.server_side_call("hello-servers", "y", timeout=3)) == [{"node": "A"}]
        await py.sio.sockets_join("room2", to=target["sid"])
        await py.sio.sockets_leave("room2", to=target["sid"])
        await py.sio.emit("adm", 1, namespace="/admin")
        await py.sio.disconnect_sockets(to="nobody-here", close=True)
        await mon.sync()
        mine = sent_by(mon, py.uid)
        answers_from = mon.mark()
        await node.send("emitWithAck", event="ping-ack", args=["q"], timeoutMs=1000)
        assert await node.command("serverSideEmitWithAck", event="hello-servers", args=["y"]) == [
            {"node": "B", "got": ["y"]}
        ]
        await node.send("emitWithAck", event="ping-ack", args=["f"], rooms="nobody", timeoutMs=1000)
        assert await node.command("fetchSockets", rooms="nobody") == []
        await mon.sync()
        answers = sent_by(mon, py.uid, answers_from)
        describe_from = mon.mark()
        assert [s["id"] for s in await node.command("fetchSockets", rooms="room1")] == [c2["sid"]]
        await mon.sync()
        [described] = sent_by(mon, py.uid, describe_from)
    want = expected(REQUESTS, sid)
    # the capture's disconnectSockets targeted room1: the same bytes but for the room's name
    want[-1] = (want[-1][0], want[-1][1].replace(b'"room1"', b'"nobody-here"'))
    have = [normalised(c.channel, c.payload, sid) for c in mine]
    assert have == want
    assert [normalised(c.channel, c.payload, sid) for c in answers] == expected(ANSWERS, sid)
    assert described.channel == f"socket.io#/#{node.uids['/']}#".encode()
    ours, theirs = json.loads(described.payload), json.loads(SHARDED[13][1])
    assert list(ours) == list(theirs) and list(ours["data"]) == list(theirs["data"])
    [socket], [captured] = ours["data"]["sockets"], theirs["data"]["sockets"]
    assert list(socket) == list(captured) and list(socket["handshake"]) == list(captured["handshake"])
    assert socket["rooms"] == [c2["sid"], "room1"]
