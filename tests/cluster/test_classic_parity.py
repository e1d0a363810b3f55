"""Byte parity (CLUSTER-WIRE.md §8 row 5, issue 10 §2): what an aiosio node PUBLISHes for each message
type equals what Node's @socket.io/redis-adapter 8.3.0 published in the lab captures
(tests/unit/cluster/captured.py, from /work/shared/cluster-captures/classic.txt and pyinterop.txt),
byte for byte once the uid, the request id and the socket ids are substituted. Where the capture
has no such message, it is compared with what a Node node publishes for the same operation in the
same test. Recorded with MONITOR, so these are the exact bytes Redis received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio

import aiosio
from unit.cluster.captured import CAPTURED, EMITTED

from .classic_support import LocalFactory, aiosio_node, connect, until
from .conftest import NodeFactory
from .monitor import MonitorCommand, RedisMonitor, decode_payload
from .node_peer import NodePeer
from .py_node import LocalPeer
from .redis_fixtures import RedisServer

__all__ = ["aiosio_node"]  # a fixture used here

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]

#: The classic capture's ids: node A's uids (/ and /admin), and the socket c2 on node B.
CAP_UID, CAP_ADMIN_UID, CAP_SID = b"LGuaOj", b"KpS17X", b"E3BeWrm8E497DhdZAAAA"
HELLO: list[Any] = ["hello", "world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


def captured(channel: str, contains: bytes, capture: str = "classic") -> bytes:
    """The one payload of *capture* published on *channel* that contains *contains*."""
    found = [v[4] for v in CAPTURED if v[0] == capture and v[2] == channel and contains in v[4]]
    assert len(found) == 1, (channel, contains, len(found))
    return found[0]


def substituted(payload: bytes, pairs: dict[bytes, bytes]) -> bytes:
    """*payload* with each id replaced by one of the same length (msgpack lengths stay right)."""
    for old, new in pairs.items():
        assert len(old) == len(new), (old, new)
        assert old in payload, (old, payload)
        payload = payload.replace(old, new)
    return payload


def request_id(cmd: MonitorCommand) -> bytes:
    """The requestId of a recorded request or response."""
    return str(decode_payload(cmd.payload)["requestId"]).encode()


def one(mon: RedisMonitor, channel: str, start: int, match: Callable[[Any], bool]) -> MonitorCommand:
    """The single PUBLISH on *channel* recorded since *start* whose decoded payload *match*es."""
    found = [cmd for cmd in mon.published(channel)[start:] if match(cmd.decoded())]
    assert len(found) == 1, [c.decoded() for c in mon.published(channel)]
    return found[0]


def by_uid(uid: str) -> Callable[[Any], bool]:
    """Payloads sent by the node *uid* (broadcasts: ``[uid, ...]``; requests: ``{"uid": ...}``)."""

    def match(obj: Any) -> bool:
        return (isinstance(obj, list) and obj[0] == uid) or (isinstance(obj, dict) and obj.get("uid") == uid)

    return match


async def cluster(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> tuple[NodePeer, LocalPeer]:
    """A Node node A and an aiosio node P."""
    node = await node_cluster_node("classic", redis_server.url, name="A")
    return node, await aiosio_node(redis_server.url)


# ------------------------------------------------------------------------------------- broadcasts


async def test_broadcasts_equal_the_capture(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """To one room (on the room's channel), to all, except a room, to two rooms, on /admin, with
    binary arguments, and a fetched remote socket's emit (flags ``expectSingleResponse``); volatile,
    which the capture only has with compress(false), against a Node node's own volatile emit."""
    node, py = await cluster(redis_server, node_cluster_node, aiosio_node)
    c2 = await connect(node, node)
    uid = py.uid.encode()
    sio = py.sio
    cases: list[tuple[str, Callable[[], Any], bytes, dict[bytes, bytes]]] = [
        ("socket.io#/#room1#", lambda: sio.emit("hello", tuple(HELLO[1:]), to="room1"), b"hello", {}),
        ("socket.io#/#", lambda: sio.emit("all", 42), b"all", {}),
        ("socket.io#/#", lambda: sio.emit("notroom1", "x", skip_sid="room1"), b"notroom1", {}),
        ("socket.io#/#", lambda: sio.emit("tworooms", to=["room1", "room2"]), b"tworooms", {}),
        ("socket.io#/admin#", lambda: sio.emit("adm", 1, namespace="/admin"), b"adm", {}),
        (
            "socket.io#/#",
            lambda: sio.emit("bin", (b"\x01\x02\x03", {"nested": b"hi", "k": "v"})),
            b"\xa3bin",
            {},
        ),
    ]
    async with RedisMonitor(redis_server.url) as mon:
        for channel, emit, marker, _ in cases:
            start = len(mon.published(channel))
            await emit()
            await mon.sync()
            cmd = one(mon, channel, start, by_uid(py.uid))
            cap_uid = CAP_ADMIN_UID if "/admin" in channel else CAP_UID
            assert cmd.payload == substituted(captured(channel, marker), {cap_uid: uid}), channel

        # RemoteSocket.emit of a socket on the Node node: a broadcast to [sid], expectSingleResponse
        [remote] = [s for s in await sio.fetch_sockets() if s.sid == c2["sid"]]
        channel = f"socket.io#/#{c2['sid']}#"
        await remote.emit("direct", "to-you")
        await mon.sync()
        cmd = one(mon, channel, 0, by_uid(py.uid))
        cap = captured(f"socket.io#/#{CAP_SID.decode()}#", b"direct")
        assert cmd.payload == substituted(cap, {CAP_UID: uid, CAP_SID: c2["sid"].encode()})
        await node.next_event({"event": "client-event", "cid": c2["cid"], "name": "direct"})

        # volatile: the same operation on both nodes
        await node.command("emit", event="vol", args=[1], volatile=True)
        await sio.emit("vol", 1, volatile=True)
        await mon.sync()
        from_node = one(mon, "socket.io#/#", 0, lambda o: o[0] == node.uids["/"] and o[1]["data"][0] == "vol")
        from_py = one(mon, "socket.io#/#", 0, lambda o: o[0] == py.uid and o[1]["data"][0] == "vol")
        assert from_py.payload == substituted(from_node.payload, {node.uids["/"].encode(): uid})
        assert from_py.decoded()[2]["flags"] == {"volatile": True}


# ------------------------------------------------------------------------------------- requests


async def test_requests_equal_the_capture(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Each request type an aiosio node sends: an ack broadcast (msgpack, to all and to a room),
    fetch (all, one room), server-side emit without and with acks, remote join / leave (also a
    fetched remote socket's join and leave) and disconnect."""
    node, py = await cluster(redis_server, node_cluster_node, aiosio_node)
    c2 = await connect(node, node, "room1", ackPrefix="ping-ack", cid="c2")
    await node.command("onServerSide", event="hello-servers", reply={"node": "B", "got": ["y"]})
    uid, sid = py.uid.encode(), c2["sid"].encode()
    sio = py.sio
    req = "socket.io-request#/#"
    [remote] = [s for s in await sio.fetch_sockets() if s.sid == c2["sid"]]
    cases: list[tuple[Callable[[], Any], bytes, dict[bytes, bytes]]] = [
        (lambda: sio.emit_with_ack("ping-ack", "q", timeout=1.0), b"Bz6vL8", {}),
        (lambda: sio.emit_with_ack("ping-ack", "r", to="room1", timeout=1.0), b"QWWShv", {}),
        (lambda: sio.fetch_sockets(), b"i-p5oa", {}),
        (lambda: sio.fetch_sockets(to="room1"), b"S3iVUg", {}),
        (lambda: sio.server_side_emit("hello-servers", "x", 1), b'"x",1]', {}),
        (lambda: sio.server_side_call("hello-servers", "y"), b"uVHPbC", {}),
        (lambda: sio.sockets_join("room2", to=c2["sid"]), b'"type":2', {CAP_SID: sid}),
        (lambda: sio.sockets_leave("room2", to=c2["sid"]), b'"type":3', {CAP_SID: sid}),
    ]
    async with RedisMonitor(redis_server.url) as mon:
        for run, marker, ids in cases:
            start = len(mon.published(req))
            await run()
            await mon.sync()
            cmd = one(mon, req, start, by_uid(py.uid))
            cap = captured(req, marker)
            pairs = {CAP_UID: uid, **ids}
            if b'"requestId"' in cap or b"requestId" in cap:
                pairs[request_id(decode_cmd(cap))] = request_id(cmd)
            assert cmd.payload == substituted(cap, pairs), marker
        # A fetched socket's join / leave / disconnect: the legacy {sid, room} form Node 8.x still
        # answers (8.x itself never sends it, so no capture has it): it acts on that socket only.
        for run, kind, tail in (
            (lambda: remote.join("room2"), 2, b'"room":"room2"'),
            (lambda: remote.leave("room2"), 3, b'"room":"room2"'),
            (lambda: remote.disconnect(close=True), 4, b'"close":true'),
        ):
            start = len(mon.published(req))
            await run()
            await mon.sync()
            cmd = one(mon, req, start, by_uid(py.uid))
            rid = request_id(cmd)
            expected = b'{"uid":"%s","requestId":"%s","type":%d,"sid":"%s",%s}' % (uid, rid, kind, sid, tail)
            assert cmd.payload == expected
        start = len(mon.published(req))
        await sio.disconnect_sockets(to="room1", close=True)
        await mon.sync()
        cmd = one(mon, req, start, by_uid(py.uid))
        assert cmd.payload == substituted(captured(req, b'"type":4'), {CAP_UID: uid})
    ev = await node.next_event({"event": "client-disconnect", "cid": c2["cid"]})
    assert ev["reason"] == "io server disconnect"


def decode_cmd(payload: bytes) -> MonitorCommand:
    """A recorded-command stand-in for a captured payload."""
    return MonitorCommand(0.0, 0, "capture", "PUBLISH", (b"", payload))


# ------------------------------------------------------------------------------------- responses


async def test_responses_equal_the_capture(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """What an aiosio node answers a Node node: a server-side emit's ack, an ack broadcast's client
    count (1, and 0 for a node without a matching client) and the client's ack (msgpack), an empty
    fetch, and all rooms."""
    node, py = await cluster(redis_server, node_cluster_node, aiosio_node)
    c2 = await connect(node, py, "room1", ackPrefix="ping-ack", cid="c2")
    py.sio.on_server_event("hello-servers", lambda *args: {"node": "B", "got": list(args)})
    sid = c2["sid"].encode()
    resp, req = "socket.io-response#/#", "socket.io-request#/#"
    cases: list[tuple[str, dict[str, Any], list[tuple[bytes, dict[bytes, bytes]]]]] = [
        ("serverSideEmitWithAck", {"event": "hello-servers", "args": ["y"]}, [(b"uVHPbC", {})]),
        (
            "emitWithAck",
            {"event": "ping-ack", "args": ["q"], "timeoutMs": 1000},
            [(b'"requestId":"Bz6vL8","clientCount"', {}), (b"\xa9requestId\xa6Bz6vL8", {})],
        ),
        ("emitWithAck", {"event": "ping-ack", "rooms": "nobody", "timeoutMs": 1000}, [(b"piMjCn", {})]),
        ("fetchSockets", {"rooms": "nobody"}, [(b"1L8wFK", {})]),
        ("rooms", {}, [(b"ePryG0", {CAP_SID: sid})]),
    ]
    async with RedisMonitor(redis_server.url) as mon:
        for command, args, expected in cases:
            start_req, start = len(mon.published(req)), len(mon.published(resp))
            await node.command(command, **args)
            await mon.sync()
            [request] = mon.published(req)[start_req:]
            got = mon.published(resp)[start:]
            assert len(got) == len(expected), [c.payload for c in got]
            for cmd, (marker, ids) in zip(got, expected, strict=True):
                cap = captured(resp, marker)
                pairs = {request_id(decode_cmd(cap)): request_id(request), **ids}
                assert cmd.payload == substituted(cap, pairs), (command, cap)


def _like(value: Any, model: Any) -> Any:
    """*value* rebuilt with the key order of *model* (recursively, where both are dicts)."""
    if isinstance(value, dict) and isinstance(model, dict):
        ordered = [k for k in model if k in value] + [k for k in value if k not in model]
        return {k: _like(value[k], model.get(k)) for k in ordered}
    if isinstance(value, list) and isinstance(model, list) and model:
        return [_like(v, model[0]) for v in value]
    return value


async def test_fetch_response_has_nodes_shape(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """A fetch answer describing a socket (which no capture can match byte for byte: headers, times)
    against a Node node's answer to the same request: the same keys in the same order at every
    level, the same header names, and compact JSON exactly as JSON.stringify writes it."""
    a = await node_cluster_node("classic", redis_server.url, name="A")
    b = await node_cluster_node("classic", redis_server.url, name="B")
    py = await aiosio_node(redis_server.url)
    on_b = await connect(a, b, "room1")
    on_py = await connect(a, py, "room1")
    await b.command("setData", sid=on_b["sid"], data={"node": "B", "n": 1})
    await py.command("setData", sid=on_py["sid"], data={"node": "P", "n": 1})
    async with RedisMonitor(redis_server.url) as mon:
        await a.command("fetchSockets")
        await mon.sync()
    answers = {cmd.decoded()["sockets"][0]["id"]: cmd for cmd in mon.published("socket.io-response#/#")}
    from_node, from_py = answers[on_b["sid"]], answers[on_py["sid"]]
    node_obj, py_obj = from_node.decoded(), from_py.decoded()
    assert list(py_obj) == list(node_obj) == ["requestId", "sockets"]
    node_sock, py_sock = node_obj["sockets"][0], py_obj["sockets"][0]
    assert list(py_sock) == list(node_sock) == ["id", "handshake", "rooms", "data"]
    assert list(py_sock["handshake"]) == list(node_sock["handshake"])
    assert list(py_sock["handshake"]["headers"]) == list(node_sock["handshake"]["headers"])
    assert py_sock["rooms"] == [on_py["sid"], "room1"]
    rebuilt = json.dumps(_like(py_obj, node_obj), separators=(",", ":"), ensure_ascii=False).encode()
    assert from_py.payload == rebuilt


# ------------------------------------------------------------------------------------- the emitter


async def test_redis_emitter_equals_nodes_emitter(redis_server: RedisServer) -> None:
    """aiosio.RedisEmitter publishes what @socket.io/redis-emitter 5.1.0 publishes (uid "emitter",
    options ordered rooms, flags, except; requests without a uid): no id to substitute."""
    mon: RedisMonitor
    async with RedisMonitor(redis_server.url) as mon:
        async with aiosio.RedisEmitter(redis_server.url) as emitter:
            await emitter.emit("all", 42)
            await emitter.emit("hello", "world", b"\x01\x02", to="room1", volatile=True)
            await emitter.emit("adm", 1, to=["a", "b"], namespace="/admin")
            await emitter.sockets_join("room2", to="room1")
            await emitter.sockets_leave(["room2", "room3"], to="room1")
            await emitter.disconnect_sockets(to="room1", close=True)
            await emitter.server_side_emit("hello-servers", "x", 1)
        await mon.sync()
    got = [(cmd.channel.decode(), cmd.payload) for cmd in mon.published()]
    # Node's "except room1, compress(false)" emit has no aiosio counterpart (no compress flag)
    expected = [v for v in EMITTED if b"notroom1" not in v[1]]
    assert got == expected


async def test_answers_to_requests_8x_never_sends_equal_nodes(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """SOCKETS (0) and the legacy ``{sid, room}`` / ``{sid, close}`` requests (which 8.x answers but
    only older adapters send, so no capture has them), published raw: the aiosio node's answer
    equals the Node node's answer to the same request, ids substituted."""
    node, py = await cluster(redis_server, node_cluster_node, aiosio_node)
    on_node = await connect(node, node, "room1")
    on_py = await connect(node, py, "room1")
    sids = {node.uids["/"]: on_node["sid"], py.uid: on_py["sid"]}
    req, resp = "socket.io-request#/#", "socket.io-response#/#"
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        async with RedisMonitor(redis_server.url) as mon:
            requests: list[Callable[[str], bytes]] = [
                lambda sid: b'{"uid":"zzzzzz","requestId":"rq0000","type":0,"rooms":["room1"]}',
                lambda sid: (
                    b'{"uid":"zzzzzz","requestId":"rq%s","type":2,"sid":"%s","room":"x"}'
                    % (sid[:4].encode(), sid.encode())
                ),
                lambda sid: (
                    b'{"uid":"zzzzzz","requestId":"rl%s","type":3,"sid":"%s","room":"x"}'
                    % (sid[:4].encode(), sid.encode())
                ),
                lambda sid: (
                    b'{"uid":"zzzzzz","requestId":"rd%s","type":4,"sid":"%s","close":false}'
                    % (sid[:4].encode(), sid.encode())
                ),
            ]
            for make in requests:
                start = len(mon.published(resp))
                payloads = {make(sid) for sid in sids.values()}
                for payload in payloads:
                    await client.publish(req, payload)
                await mon.sync()

                async def both_answered(start: int = start) -> bool:
                    await mon.sync()
                    return len(mon.published(resp)[start:]) == 2

                await until(both_answered)
                a, b = (cmd.payload for cmd in mon.published(resp)[start:])
                # who answered which: the answer naming (or keyed by) the aiosio socket is the aiosio node's
                mine, theirs = (
                    (a, b) if on_py["sid"][:4].encode() in a or on_py["sid"].encode() in a else (b, a)
                )
                swap = {
                    on_node["sid"].encode(): on_py["sid"].encode(),
                    on_node["sid"][:4].encode(): on_py["sid"][:4].encode(),
                }
                expected = theirs
                for old, new in swap.items():
                    expected = expected.replace(old, new)
                assert mine == expected, (mine, theirs)
    finally:
        await client.aclose()
    for info in (on_node, on_py):
        ev = await node.next_event({"event": "client-disconnect", "cid": info["cid"]})
        assert ev["reason"] == "io server disconnect"


async def test_call_of_a_remote_sid_equals_nodes_remote_socket_emit_with_ack(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``sio.call(to=sid)`` of another node's client and Node's ``remoteSocket.timeout(t)
    .emitWithAck()``: the same BROADCAST request (msgpack; flags expectSingleResponse, timeout)."""
    node, py = await cluster(redis_server, node_cluster_node, aiosio_node)
    on_node = await connect(node, node)
    on_py = await connect(node, py)
    req = "socket.io-request#/#"
    async with RedisMonitor(redis_server.url) as mon:
        await node.command("remoteSocket", sid=on_py["sid"], op="emit", args=["ack-me", 1], timeoutMs=1500)
        await py.sio.call("ack-me", 1, to=on_node["sid"], timeout=1.5)
        await mon.sync()
    from_node = one(mon, req, 0, lambda o: by_uid(node.uids["/"])(o) and o["type"] == 7)
    from_py = one(mon, req, 0, lambda o: by_uid(py.uid)(o) and o["type"] == 7)
    assert from_py.decoded()["opts"]["flags"] == {"expectSingleResponse": True, "timeout": 1500}
    expected = substituted(
        from_node.payload,
        {
            node.uids["/"].encode(): py.uid.encode(),
            request_id(from_node): request_id(from_py),
            on_py["sid"].encode(): on_node["sid"].encode(),
        },
    )
    assert from_py.payload == expected
