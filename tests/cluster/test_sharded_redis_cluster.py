"""The sharded adapter on a 3-master Redis Cluster (redis-py's ``RedisCluster``): two aiosio nodes and a
Node node (node-redis ``createCluster``) form one cluster. SHARDNUMSUB is summed over the masters,
room channels that hash to different masters each reach their room's members on every node, and fetch
sockets collects the sockets of all three nodes (issue 10 §2: python-socketio has no Redis Cluster
support at all)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.crc import key_slot

from .conftest import NodeFactory
from .monitor import ClusterMonitor
from .redis_fixtures import RedisClusterServers
from .sharded_nodes import got, mark, start_aio_node

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]  # the first cluster test makes the cluster


def slot_owners(cluster: RedisClusterServers) -> list[tuple[int, int, str]]:
    """(first slot, last slot, owner url) of every slot range."""
    client = cluster.nodes[0].client()
    try:
        ranges = client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return [(r[0], r[1], f"redis://127.0.0.1:{r[2][1]}") for r in ranges]


def owner(ranges: list[tuple[int, int, str]], channel: str) -> str:
    """The url of the master owning ``channel``'s slot."""
    slot = key_slot(channel.encode())
    [url] = [u for first, last, u in ranges if first <= slot <= last]
    return url


def rooms_on_different_masters(ranges: list[tuple[int, int, str]]) -> tuple[str, str]:
    """Two room names whose channels hash to two different masters, neither the main channel's."""
    main = owner(ranges, "socket.io#/#")
    by_owner: dict[str, str] = {}
    for i in range(1000):
        room = f"room-{i}"
        url = owner(ranges, f"socket.io#/#{room}#")
        if url != main:
            by_owner.setdefault(url, room)
        if len(by_owner) == 2:
            first, second = by_owner.values()
            return first, second
    raise AssertionError("no two rooms on different masters")


async def test_two_aiosio_nodes_and_a_node_node_on_a_redis_cluster(
    redis_cluster: RedisClusterServers, node_cluster_node: NodeFactory, serve: Any
) -> None:
    """Count 3 everywhere; rooms X and Y on two different masters (not the main channel's): a room
    broadcast from each node reaches the room's members on the other nodes exactly once, SPUBLISHed on
    the owner of the room channel's slot; fetch sockets from an aiosio node and from the Node node
    returns the sockets of all three nodes, complete."""
    ranges = slot_owners(redis_cluster)
    x, y = rooms_on_different_masters(ranges)
    node = await node_cluster_node("sharded", None, cluster=redis_cluster.urls)
    py1 = await start_aio_node(serve, redis_cluster.urls[0], cluster=True)
    py2 = await start_aio_node(serve, redis_cluster.urls[1], cluster=True)
    for count in (py1.sio.server_count, py2.sio.server_count, lambda: node.command("serverCount")):
        assert await count() == 3
    on_py1 = await node.client(py1.url, transports=["websocket"])
    on_py2 = await node.client(py2.url, transports=["websocket"])
    on_node = await node.client(node.url, transports=["websocket"])
    await py1.sio.enter_room(on_py1["sid"], x)
    await py2.sio.enter_room(on_py2["sid"], y)
    await node.command("join", sid=on_node["sid"], rooms=[x, y])
    await py1.settle()
    await py2.settle()
    everyone = (on_py1["cid"], on_py2["cid"], on_node["cid"])
    members = {x: {on_py1["cid"], on_node["cid"]}, y: {on_py2["cid"], on_node["cid"]}}
    sent = (("from-py2", x), ("from-py1", y), ("from-node-x", x), ("from-node-y", y))
    async with ClusterMonitor(redis_cluster.urls) as mon:
        await py2.sio.emit("from-py2", 1, to=x)
        await py1.sio.emit("from-py1", 1, to=y)
        await node.command("emit", event="from-node-x", args=[1], rooms=x)
        await node.command("emit", event="from-node-y", args=[1], rooms=y)
        # Channels on different masters keep no order between them: each event is awaited itself,
        # then a marker on the main channel of every sender lets anything extra show up.
        for event, room in sent:
            for cid in members[room]:
                await node.next_event({"event": "client-event", "cid": cid, "name": event})
        await mark(lambda: py1.sio.emit("mark"), node, *everyone)
        await mark(lambda: py2.sio.emit("mark"), node, *everyone)
        await mark(lambda: node.command("emit", event="mark"), node, *everyone)
        await mon.sync()
    for event, room in sent:
        assert {cid for cid in everyone if got(node, cid, event)} == members[room], event
        assert all(len(got(node, cid, event)) == 1 for cid in members[room])
    for room, uid in ((x, py2.uid), (y, py1.uid)):
        channel = f"socket.io#/#{room}#"
        [cmd] = [c for c in mon.published(channel) if c.decoded()["uid"] == uid]
        assert cmd.name == "SPUBLISH" and mon.node_of(cmd) == owner(ranges, channel)
    assert owner(ranges, f"socket.io#/#{x}#") != owner(ranges, f"socket.io#/#{y}#")
    found = await py1.sio.fetch_sockets(timeout=3)
    assert found.complete and {s.sid for s in found} == {on_py1["sid"], on_py2["sid"], on_node["sid"]}
    assert {s["id"] for s in await node.command("fetchSockets")} == {s.sid for s in found}
    assert [s.sid for s in await py2.sio.fetch_sockets(to=x, timeout=3)] != []
    await node.command("onServerSide", event="ping-servers", reply="node")
    answers = await py2.sio.server_side_call("ping-servers", "c", timeout=3)
    assert answers.complete and sorted(map(str, answers)) == sorted(
        ["node", str({"node": "py", "got": ["c"]})]
    )
    await py2.sio.shutdown()
    async with asyncio.timeout(3):
        while await py1.sio.server_count() != 2:
            await asyncio.sleep(0.02)
