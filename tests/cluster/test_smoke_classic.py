"""A first end-to-end check of the classic Redis adapter: an aiosio node and a Node socket.io node
on one redis-server form one cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio

from .conftest import NodeFactory
from .redis_fixtures import RedisServer

pytestmark = [pytest.mark.interop, pytest.mark.timeout(20)]


async def test_aiosio_and_node_share_a_classic_cluster(
    redis_server: RedisServer, node_cluster_node: NodeFactory, serve: Any
) -> None:
    redis_server.flush()
    node = await node_cluster_node("classic", redis_server.url)
    sio = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url))
    sio.on_server_event("ping-servers", lambda *args: {"py": list(args)})
    handle = await serve(sio)
    assert await sio.server_count() == 2
    assert await node.command("serverCount") == 2

    py_client = await node.client(handle.url, transports=["websocket"])  # a client on the aiosio node
    node_client = await node.client(node.url, transports=["websocket"])  # a client on the Node node
    await sio.enter_room(py_client["sid"], "r1")
    await node.command("join", sid=node_client["sid"], rooms=["r1"])

    await node.command("emit", event="hello", args=["from-node"], rooms=["r1"])
    await node.next_event({"event": "client-event", "cid": py_client["cid"], "name": "hello"})
    await sio.emit("hello", ("from-py", b"\x01\x02"), to="r1")
    cid = node_client["cid"]
    ev = await node.next_event(
        lambda e: e.get("event") == "client-event" and e["cid"] == cid and e["args"][0] == "from-py"
    )
    assert ev["args"][1] == b"\x01\x02"

    found = await node.command("fetchSockets", rooms=["r1"])
    assert sorted(s["id"] for s in found) == sorted([py_client["sid"], node_client["sid"]])
    mine = await sio.fetch_sockets(to="r1")
    assert mine.complete and sorted(s.sid for s in mine) == sorted([py_client["sid"], node_client["sid"]])

    answers = await node.command("serverSideEmitWithAck", event="ping-servers", args=[1])
    assert answers == [{"py": [1]}]
    await node.command("onServerSide", event="ping-py", reply={"node": True})
    assert await sio.server_side_call("ping-py", 2, timeout=3) == [{"node": True}]

    acks = await sio.emit_with_ack("ack-me", None, to="r1", timeout=3)
    assert sorted(a["client"] for a in acks) == sorted([py_client["cid"], node_client["cid"]])
    await asyncio.sleep(0)
