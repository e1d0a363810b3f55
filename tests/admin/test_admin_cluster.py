"""The Admin UI over a cluster: two aiosio servers on one real redis-server (AsyncRedisManager), the
admin connected to one of them sees the other's sockets and stats, hears its live events, and its
operations reach the other server's sockets (as Node's admin-ui does over its adapters)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_support import Instrumented, admin_event, admin_event_where, connect_admin, connect_user
from node_driver import NodeDriver

import aiosio
from cluster.redis_fixtures import RedisServer, running_redis
from peers import require_executable

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh standalone redis-server (SIGKILLed by pid at teardown)."""
    with running_redis(require_executable("redis-server"), tmp_path) as server:
        yield server


async def test_admin_sees_and_acts_on_the_whole_cluster(
    redis_server: RedisServer, node: NodeDriver, instrumented: Instrumented
) -> None:  # redis_server first: it must outlive the servers (fixtures end in reverse order)
    """all_sockets lists the other server's sockets with their own client ids and transports
    (what B's fetch answer says in Node admin-ui's ``_admin``); server_stats come from both servers;
    a socket connecting to the other server is reported; join and _disconnect act on it there."""
    sio_a, _, url_a = await instrumented(
        aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url)), server_id="A"
    )
    sio_b, _, url_b = await instrumented(
        aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url)), server_id="B"
    )
    async with asyncio.timeout(10):
        while await sio_a.server_count() != 2 or await sio_b.server_count() != 2:
            await asyncio.sleep(0.05)
    on_b = await connect_user(node, url_b, "on-b")
    assert await node.call("on-b", "join", "blue") == ["joined"]
    polling_b = await connect_user(node, url_b, "polling-b", transports=["polling"])

    await connect_admin(node, url_a, transports=["websocket"])
    (sockets,) = await admin_event(node, "all_sockets")
    record = next(s for s in sockets if s["id"] == on_b)
    assert record["nsp"] == "/" and set(record["rooms"]) == {on_b, "blue"}
    assert record["clientId"] == sio_b._sockets[on_b].eio_sid and record["transport"] == "websocket"
    polling = next(s for s in sockets if s["id"] == polling_b)
    assert polling["clientId"] == sio_b._sockets[polling_b].eio_sid and polling["transport"] == "polling"
    assert "_admin" not in record["data"]
    assert sio_b._sockets[on_b].user is None  # the session B's app sees is untouched
    servers: set[str] = set()
    async with asyncio.timeout(10):
        while servers != {"A", "B"}:
            (stats,) = await admin_event(node, "server_stats")
            servers.add(stats["serverId"])

    later = await connect_user(node, url_b, "later-on-b")
    await admin_event_where(node, "socket_connected", lambda args: args[0]["id"] == later)

    await node.emit("admin", "join", "/", "vip", on_b)
    async with asyncio.timeout(10):
        while "vip" not in sio_b.rooms(on_b):
            await asyncio.sleep(0.02)
    assert (await admin_event_where(node, "room_joined", lambda args: args[1] == "vip"))[2] == on_b

    await node.emit("admin", "_disconnect", "/", False, on_b)
    assert (await node.event("disconnect", client="on-b"))["reason"] == "io server disconnect"
    assert not node.unclaimed("disconnect", client="later-on-b")
