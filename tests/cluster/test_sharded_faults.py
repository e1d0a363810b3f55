"""Faults in a sharded cluster of an aiosio node and a Node node: Redis restarting under them (the
aiosio node SSUBSCRIBEs its main, own and room channels again, once each), and hostile messages on
every channel the aiosio node reads (dropped and counted, the node serves on)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
import pytest
import redis.asyncio

from aiosio.protocol import cluster as c

from .conftest import NodeFactory
from .node_peer import NodeCommandError
from .redis_fixtures import RedisServer
from .sharded_nodes import start_aio_node

pytestmark = [pytest.mark.interop, pytest.mark.timeout(20)]


@pytest.mark.parametrize("mode", ["dynamic", "dynamic-private"])
async def test_redis_restart_resubscribes_every_channel_once(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, mode: str
) -> None:
    """Redis killed and started again on the same port: the count comes back to 2 (the aiosio node is
    subscribed once), the aiosio node's room channel (and in dynamic-private its socket's sid channel)
    is subscribed again, so Node's single-room broadcast and RemoteSocket.emit reach its client."""
    redis_server.flush()
    node = await node_cluster_node("sharded", redis_server.url, subscriptionMode=mode)
    py = await start_aio_node(serve, redis_server.url, mode)
    on_py = await node.client(py.url, transports=["websocket"])
    await py.sio.enter_room(on_py["sid"], "r1")
    await py.settle()
    await asyncio.to_thread(redis_server.restart)

    async def both(count: int) -> bool:
        try:
            return await py.sio.server_count() == count and await node.command("serverCount") == count
        except (NodeCommandError, OSError, redis.RedisError):
            return False

    async with asyncio.timeout(10):
        while not await both(2):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # no late second subscription
        assert await both(2)
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            channels = set(await client.execute_command("PUBSUB", "SHARDCHANNELS"))
        finally:
            await client.aclose()
        assert b"socket.io#/#r1#" in channels
        assert (f"socket.io#/#{on_py['sid']}#".encode() in channels) == (mode == "dynamic-private")
        while True:  # node-redis may still be resubscribing its own channels
            await node.command("emit", event="after", rooms="r1")
            try:
                await node.next_event({"event": "client-event", "cid": on_py["cid"], "name": "after"}, 0.3)
                break
            except AssertionError:
                continue
        await node.command("remoteSocket", sid=on_py["sid"], op="emit", args=["direct", 1])
        await node.next_event({"event": "client-event", "cid": on_py["cid"], "name": "direct"})


def _hostile(uid: str) -> list[bytes]:
    good = c.encode_cluster(
        c.ClusterBroadcast("zz", "/", c.WirePacket("/", ["ev", "x" * 40]), c.WireOpts(("r1",), ()))
    )
    return [
        b"",
        b"\xff\xfe not msgpack",
        b"{not json",
        good[: len(good) // 2],
        msgpack.packb([1, 2, 3]),
        msgpack.packb({"type": 3, "uid": "zz", "nsp": "/", "data": {"packet": "nope"}}),
        b'{"type":99,"uid":"zz","nsp":"/"}',
        b'{"type":3,"uid":"zz","nsp":"/","data":{"packet":{"type":2,"data":[]},"opts":{}}}',
        b'{"type":8,"uid":"zz","nsp":"/","data":{"requestId":"r","sockets":"many"}}',
        b'{"type":11,"uid":"zz","nsp":"/","data":{"requestId":"r","clientCount":-1}}',
        f'{{"type":7,"uid":"{uid}","nsp":"/","data":{{"opts":5,"requestId":"r"}}}}'.encode(),
        b"\xdb\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\x91" * 100_000 + b"\xc0",
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    ]


async def test_hostile_messages_are_dropped_and_the_node_keeps_serving(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage, truncated msgpack, wrong shapes, huge declared lengths and deep nesting on the main,
    own and room channels of the aiosio node: each one dropped and counted (the first ten logged), no
    exception escapes; afterwards a valid broadcast reaches its client and a fetch is answered."""
    caplog.set_level(logging.WARNING, logger="aiosio")
    redis_server.flush()
    holder = await node_cluster_node("sharded", redis_server.url, channelPrefix="elsewhere")
    py = await start_aio_node(serve, redis_server.url)
    on_py = await holder.client(py.url, transports=["websocket"])
    await py.sio.enter_room(on_py["sid"], "r1")
    await py.settle()
    read = ["socket.io#/#", f"socket.io#/#{py.uid}#", "socket.io#/#r1#", "socket.io#/admin#"]
    payloads = _hostile(py.uid)
    for payload in payloads:  # each is invalid (the codec itself says so)
        with pytest.raises(c.ClusterMessageError):
            c.decode_cluster(payload)
    before = py.driver.dropped.count
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        for ch in read:
            for payload in payloads:
                await client.spublish(ch, payload)
        mark = c.encode_cluster(c.ClusterBroadcast("zz", "/", c.WirePacket("/", ["mark"]), c.WireOpts()))
        await client.spublish("socket.io#/#", mark)
        await holder.next_event({"event": "client-event", "cid": on_py["cid"], "name": "mark"})
    finally:
        await client.aclose()
    assert py.driver.dropped.count - before == len(read) * len(payloads)
    assert len([r for r in caplog.records if "dropped a cluster message" in r.getMessage()]) == 10
    assert py.driver.link.stats.callback_errors == 0
    node = await node_cluster_node("sharded", redis_server.url)
    assert on_py["sid"] in {s["id"] for s in await node.command("fetchSockets")}
    await node.command("emit", event="still-here", rooms="r1")
    await holder.next_event({"event": "client-event", "cid": on_py["cid"], "name": "still-here"})


async def test_a_server_answering_twice_is_counted_once(redis_server: RedisServer, serve: Any) -> None:
    """Two fake servers (raw Redis clients on the main channel, so SHARDNUMSUB counts 3): one answers a
    fetch twice, the other never. The duplicate is ignored (Node's ClusterAdapter would count it and
    complete early): the fetch returns one answer, ``missing == 1``."""
    redis_server.flush()
    py = await start_aio_node(serve, redis_server.url)
    fakes = [redis.asyncio.Redis.from_url(redis_server.url) for _ in range(2)]
    subs = [fake.pubsub() for fake in fakes]
    try:
        for sub in subs:
            await sub.ssubscribe("socket.io#/#")
            assert (await sub.get_message(timeout=2))["type"] == "ssubscribe"
        assert await py.sio.server_count() == 3
        fetch = asyncio.ensure_future(py.sio.fetch_sockets(timeout=1))
        async with asyncio.timeout(3):
            while True:
                message = await subs[0].get_message(timeout=1)
                if message is not None and message["type"] == "smessage":
                    request = c.decode_cluster(message["data"])
                    if isinstance(request, c.ClusterFetchSockets):
                        break
        wire = c.WireSocket("s" * 20, {"address": "fake"}, ("s" * 20,), {"n": 1})
        answer = c.encode_cluster(c.ClusterFetchSocketsResponse("fake-one", "/", request.request_id, (wire,)))
        for _ in range(2):
            await fakes[0].spublish(f"socket.io#/#{py.uid}#", answer)
        found = await fetch
    finally:
        for sub in subs:
            await sub.aclose()
        for fake in fakes:
            await fake.aclose()
    assert [s.sid for s in found] == ["s" * 20] and found.missing == 1
