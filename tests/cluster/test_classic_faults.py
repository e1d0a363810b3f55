"""Faults in a classic cluster of aiosio and Node nodes (CLUSTER-WIRE.md §8 rows 10-11, issue 10 §3):
a frozen node (SIGSTOP), a killed node (SIGKILL), Redis restarting under the nodes, and hostile
messages on every channel an aiosio node reads. An aiosio requester never fails as a whole: it returns
what answered and says how many servers did not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
import pytest
import redis.asyncio

from aiosio.exceptions import AcksMissingError
from aiosio.protocol import cluster as c

from .classic_support import (
    LocalFactory,
    ProcessFactory,
    aiosio_node,
    connect,
    counts,
    py_process,
    settle,
    until,
)
from .conftest import NodeFactory
from .node_peer import NodeCommandError
from .redis_fixtures import RedisServer

__all__ = ["aiosio_node", "py_process"]  # fixtures used here

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]


def loop_time() -> float:
    """The running loop's clock."""
    return asyncio.get_running_loop().time()


# ------------------------------------------------------------------------------------- frozen nodes


async def test_frozen_node_node_gives_aiosio_partial_results(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Node B frozen (still counted by Redis): the aiosio node's fetch_sockets, server_side_call and
    emit_with_ack end at their timeout with what A and the aiosio node itself gave, ``missing == 1``
    (fetch, call) or AcksMissingError carrying the partial acks; nothing fails as a whole."""
    a = await node_cluster_node("classic", redis_server.url, name="A")
    b = await node_cluster_node("classic", redis_server.url, name="B")
    py = await aiosio_node(redis_server.url, requestsTimeout=1000)
    a1, b1, p1 = await connect(a, a), await connect(a, b), await connect(a, py)
    for node in (a, b):
        await node.command("onServerSide", event="q", reply={"from": node.name})
    b.freeze()
    try:
        assert await py.sio.server_count() == 3
        t0 = loop_time()
        found, called, acked = await asyncio.gather(
            py.sio.fetch_sockets(),
            py.sio.server_side_call("q", timeout=1.0),
            py.sio.emit_with_ack("ack-me", None, timeout=1.0),
            return_exceptions=True,
        )
        took = loop_time() - t0
    finally:
        b.thaw()
    assert 0.9 < took < 3.0
    assert not isinstance(found, BaseException) and not isinstance(called, BaseException)
    assert sorted(s.sid for s in found) == sorted([a1["sid"], p1["sid"]])
    assert found.missing == 1 and not found.complete
    assert list(called) == [{"from": "A"}] and called.missing == 1
    assert isinstance(acked, AcksMissingError)
    assert sorted(r["client"] for r in acked.responses) == sorted([a1["cid"], p1["cid"]])
    assert b1["cid"] not in [r["client"] for r in acked.responses]
    # thawed, B answers again: a complete result
    again = await py.sio.fetch_sockets()
    assert again.complete and len(again) == 3


async def test_frozen_aiosio_node_node_times_out_aiosio_gets_partial(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    aiosio_node: LocalFactory,
    py_process: ProcessFactory,
) -> None:
    """An aiosio node process frozen: a Node requester's fetch, server-side call and ack broadcast
    end after its timeouts with its own texts (Node's behaviour: the fetch loses what arrived, the
    others keep it), while the other aiosio node returns A's and its own sockets with
    ``missing == 1``; once thawed, the frozen node answers again."""
    a = await node_cluster_node("classic", redis_server.url, name="A", requestsTimeout=1000)
    q = await py_process(redis_server.url, name="Q")
    py = await aiosio_node(redis_server.url, requestsTimeout=1000)
    a1, q1, p1 = await connect(a, a), await connect(a, q), await connect(a, py)
    for peer in (q, py):
        await peer.command("onServerSide", event="q", reply=peer.name)
    q.freeze()
    try:
        node_fetch, py_fetch, node_call, node_acks = await asyncio.gather(
            a.command("fetchSockets"),
            py.sio.fetch_sockets(),
            a.command("serverSideEmitWithAck", event="q"),
            a.command("emitWithAck", event="ack-me", timeoutMs=1000),
            return_exceptions=True,
        )
    finally:
        q.thaw()
    assert isinstance(node_fetch, NodeCommandError)
    assert node_fetch.message == "timeout reached while waiting for fetchSockets response"
    assert node_call == {"error": "timeout reached: only 1 responses received out of 2", "responses": ["P"]}
    assert isinstance(node_acks, dict) and node_acks["error"] == "operation has timed out"
    assert sorted(r["client"] for r in node_acks["responses"]) == sorted([a1["cid"], p1["cid"]])
    assert not isinstance(py_fetch, BaseException)
    assert sorted(s.sid for s in py_fetch) == sorted([a1["sid"], p1["sid"]]) and py_fetch.missing == 1

    async def complete() -> bool:
        found = await py.sio.fetch_sockets(timeout=1.0)
        return found.complete and q1["sid"] in {s.sid for s in found}

    await until(complete, timeout=6)  # after SIGCONT the process may first reconnect to Redis
    assert sorted(s["id"] for s in await a.command("fetchSockets")) == sorted(
        [a1["sid"], q1["sid"], p1["sid"]]
    )


# ------------------------------------------------------------------------------------- killed nodes


async def test_killed_nodes_leave_the_count_and_queries_return_at_once(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    aiosio_node: LocalFactory,
    py_process: ProcessFactory,
) -> None:
    """SIGKILL a Node node and an aiosio node process: the count drops to the survivors, and
    fetch_sockets / server_side_call return at once, complete, with the survivors only."""
    a = await node_cluster_node("classic", redis_server.url, name="A")
    b = await node_cluster_node("classic", redis_server.url, name="B")
    q = await py_process(redis_server.url, name="Q")
    py = await aiosio_node(redis_server.url)
    a1, p1 = await connect(a, a), await connect(a, py)
    await connect(a, b)
    await connect(a, q)
    await a.command("onServerSide", event="q", reply="A")
    assert await counts([a, py]) == [4, 4]
    await b.kill()
    await q.kill()

    async def two() -> bool:
        return await counts([a, py]) == [2, 2]

    await until(two)
    t0 = loop_time()
    found = await py.sio.fetch_sockets()
    called = await py.sio.server_side_call("q")
    acks = await py.sio.emit_with_ack("ack-me", None, timeout=5)
    assert loop_time() - t0 < 1.0  # their timeouts are 5 s
    assert found.complete and sorted(s.sid for s in found) == sorted([a1["sid"], p1["sid"]])
    assert called.complete and list(called) == ["A"]
    assert sorted(r["client"] for r in acks) == sorted([a1["cid"], p1["cid"]])
    reply = await a.send("fetchSockets")
    assert reply["ok"] and reply["ms"] < 1000 and len(reply["result"]) == 2


# ------------------------------------------------------------------------------------- Redis restart


@pytest.mark.timeout(20)
async def test_redis_restart_mid_run(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    aiosio_node: LocalFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis killed under the nodes: local delivery on the aiosio node never stops, its queries
    answer locally without raising; Redis back on the same port: the aiosio node resubscribes, the
    count is back to 2 (not 3: subscribed once), cross-node broadcasts flow both ways again, and the
    outage logged one warning."""
    caplog.set_level(logging.INFO, logger="aiosio")
    a = await node_cluster_node("classic", redis_server.url, name="A")
    py = await aiosio_node(redis_server.url, requestsTimeout=500)
    a1, p1 = await connect(a, a, "room1"), await connect(a, py, "room1")
    p2 = await connect(a, py)
    try:
        redis_server.kill()
        for i in range(3):  # local delivery goes on, for every message, however the link is
            await py.command("emit", event="during", args=[i])
            await py.command("emit", event="during-room", args=[i], rooms="room1")
        for cid, name in ((p1["cid"], "during"), (p2["cid"], "during"), (p1["cid"], "during-room")):
            for i in range(3):
                ev = await a.next_event({"event": "client-event", "cid": cid, "name": name})
                assert ev["args"] == [i]
        found = await asyncio.wait_for(py.sio.fetch_sockets(), 3)  # never raises
        assert {p1["sid"], p2["sid"]} <= {s.sid for s in found}
        await asyncio.sleep(0.3)
    finally:
        await asyncio.to_thread(redis_server.start)

    async def both_back() -> bool:
        try:
            return await counts([a, py]) == [2, 2]
        except (NodeCommandError, OSError, redis.RedisError):
            return False

    await until(both_back, timeout=8, step=0.05)
    await asyncio.sleep(0.3)  # no late second subscription
    assert await counts([a, py]) == [2, 2]
    numsub = await a.command("redisCommand", args=["PUBSUB", "NUMSUB", "socket.io-request#/#"])
    assert numsub == ["socket.io-request#/#", 2]
    await py.command("emit", event="after", args=["py"], rooms="room1")
    ev = await a.next_event({"event": "client-event", "cid": a1["cid"], "name": "after"}, timeout=5)
    assert ev["args"] == ["py"]
    await a.command("emit", event="after", args=["node"], rooms="room1")
    ev = await a.next_event(
        lambda e: e.get("event") == "client-event" and e["cid"] == p1["cid"] and e["args"] == ["node"]
    )
    lost = [r for r in caplog.records if r.levelno == logging.WARNING and "redis link lost" in r.getMessage()]
    assert len(lost) == 1, [r.getMessage() for r in caplog.records]
    assert [r for r in caplog.records if "redis link back" in r.getMessage()]


# ------------------------------------------------------------------------------------- hostile messages


def _hostile() -> list[bytes]:
    good = c.encode_broadcast("zzzzzz", c.WirePacket("/", ["ev", "x" * 40]), c.WireOpts(("room1",), ()))
    return [
        b"",
        b"\xff\xfe not msgpack at all",
        b"{not json",
        good[: len(good) // 2],  # truncated msgpack
        good[:-1],
        msgpack.packb([1, 2, 3]),  # wrong shapes
        msgpack.packb({"type": 2}),
        msgpack.packb(["uid", "not a packet", {}]),
        msgpack.packb({"uid": "x", "requestId": "r", "type": 7, "packet": "nope", "opts": {}}),
        b'{"type":99,"requestId":"r"}',
        b'{"uid":"x","requestId":"r","type":5}',
        b'{"uid":5,"type":2,"opts":{"rooms":"r1","except":[]},"rooms":[1]}',
        b'{"requestId":5,"sockets":"many"}',
        b'{"type":8,"requestId":"r","clientCount":-1}',
        b"\xdb\xff\xff\xff\xff",  # huge declared lengths: str32, array32, map32, bin32 of 4 GiB
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff\x00",
        b"\x91" * 100_000 + b"\xc0",  # deep nesting
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        b"[" * 100_000,
    ]


def _decoder(channel: str) -> Any:
    if "-request#" in channel:
        return c.decode_request
    if "-response#" in channel:
        return c.decode_response
    return c.decode_broadcast


async def test_hostile_messages_are_dropped_and_the_node_keeps_serving(
    redis_server: RedisServer,
    node_cluster_node: NodeFactory,
    aiosio_node: LocalFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Garbage, truncated msgpack, wrong shapes, huge declared lengths and deep nesting on every
    channel the aiosio node reads: each is dropped and counted, only the first ten are logged, no
    exception escapes; a room channel of a room it does not hold is not even decoded; afterwards it
    serves broadcasts and answers a Node node's requests as before.

    The clients are held by a Node process outside the cluster (another key): one malformed
    broadcast kills a Node @socket.io/redis-adapter node (notepack throws in its message listener;
    the last part of this test shows it), so the Node member joins after the garbage.
    """
    caplog.set_level(logging.WARNING, logger="aiosio")
    holder = await node_cluster_node("classic", redis_server.url, name="H", key="elsewhere")
    py = await aiosio_node(redis_server.url)
    p1 = await connect(holder, py, "room1")
    pa = await connect(holder, py, nsp="/admin")
    driver: Any = py.sio.manager.adapter.driver
    uid = driver.uid
    read = [
        ch
        for nsp in ("/", "/admin")
        for ch in (
            f"socket.io#{nsp}#",
            f"socket.io-request#{nsp}#",
            f"socket.io-response#{nsp}#",
            f"socket.io-response#{nsp}#{uid}#",
        )
    ] + ["socket.io#/#room1#"]
    not_decoded = ["socket.io#/#nobody-here#", "socket.io#/other#"]
    payloads = _hostile()
    for ch in read:  # every one is invalid where it is sent (checked with the codec itself)
        for payload in payloads:
            with pytest.raises(c.ClusterMessageError):
                _decoder(ch)(payload)
    before = driver.dropped.count
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        for ch in read + not_decoded:
            for payload in payloads:
                await client.publish(ch, payload)
        for nsp in ("/", "/admin"):  # a valid broadcast after them, on the same connection: a mark
            mark = c.encode_broadcast("zzzzzz", c.WirePacket(nsp, ["mark"]), c.WireOpts((), ()))
            await client.publish(f"socket.io#{nsp}#", mark)
        for cid in (p1["cid"], pa["cid"]):
            await holder.next_event({"event": "client-event", "cid": cid, "name": "mark"})
    finally:
        await client.aclose()
    assert driver.dropped.count - before == len(read) * len(payloads)
    dropped = [r for r in caplog.records if "dropped a cluster message" in r.getMessage()]
    assert len(dropped) == 10
    assert driver.link.stats.callback_errors == 0
    # still a full member: a Node node's broadcast and requests, its own queries
    a = await node_cluster_node("classic", redis_server.url, name="A")
    await a.command("emit", event="still-here", rooms="room1")
    await holder.next_event({"event": "client-event", "cid": p1["cid"], "name": "still-here"})
    assert p1["sid"] in {s["id"] for s in await a.command("fetchSockets")}
    found = await py.sio.fetch_sockets()
    assert found.complete and p1["sid"] in {s.sid for s in found}

    # what the same message does to a Node node (aiosio does better): it dies
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await client.publish("socket.io#/#", payloads[3])
    finally:
        await client.aclose()
    ev = await a.next_event({"event": "fatal"})
    assert "Could not parse" in ev["error"]

    async def alone() -> bool:
        return await py.sio.server_count() == 1

    await until(alone)  # the Node node is gone, the aiosio node serves on
    await settle(py, holder, [p1["cid"]])


async def test_valid_messages_a_node_must_ignore(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """Well-formed broadcasts Node's rules drop are dropped (and not counted as malformed): one
    whose packet is for another namespace than its channel's, one carrying the node's own uid (a
    replay of what it published); the emitter's uid is a valid foreign sender."""
    holder = await node_cluster_node("classic", redis_server.url, name="H", key="elsewhere")
    py = await aiosio_node(redis_server.url)
    p1 = await connect(holder, py)
    driver: Any = py.sio.manager.adapter.driver
    before = driver.dropped.count
    everyone = c.WireOpts((), ())
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        for uid, nsp, event in (
            ("zzzzzz", "/admin", "wrong-nsp"),
            (py.uid, "/", "own-uid"),
            (c.EMITTER_UID, "/", "from-emitter"),
            ("zzzzzz", "/", "mark"),
        ):
            await client.publish(
                "socket.io#/#", c.encode_broadcast(uid, c.WirePacket(nsp, [event]), everyone)
            )
        await holder.next_event({"event": "client-event", "cid": p1["cid"], "name": "mark"})
    finally:
        await client.aclose()
    names = [e["name"] for e in holder.events if e["event"] == "client-event" and e["cid"] == p1["cid"]]
    assert names == ["from-emitter", "mark"]
    assert driver.dropped.count == before


@pytest.mark.timeout(20)
async def test_aiosio_node_started_while_redis_is_down(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """An aiosio node starting while Redis is away serves its clients at once (local broadcasts
    reach them); once Redis is back it joins the cluster: counted once, broadcasts cross both ways."""
    holder = await node_cluster_node("classic", redis_server.url, name="H", key="elsewhere")
    redis_server.kill()
    try:
        py = await asyncio.wait_for(aiosio_node(redis_server.url), 5)
        p1 = await connect(holder, py, "room1")
        await py.command("emit", event="local", rooms="room1")
        await holder.next_event({"event": "client-event", "cid": p1["cid"], "name": "local"})
    finally:
        await asyncio.to_thread(redis_server.start)
    a = await node_cluster_node("classic", redis_server.url, name="A")

    async def both() -> bool:
        return await counts([a, py]) == [2, 2]

    await until(both, timeout=8, step=0.05)
    a1 = await connect(holder, a, "room1")
    await a.command("emit", event="from-node", rooms="room1")
    await holder.next_event({"event": "client-event", "cid": p1["cid"], "name": "from-node"})
    await py.command("emit", event="from-py", rooms="room1")
    await holder.next_event({"event": "client-event", "cid": a1["cid"], "name": "from-py"})
