"""The Admin UI over a cluster of an aiosio server and a Node socket.io server instrumented with
@socket.io/admin-ui, on one real redis-server (Node's classic @socket.io/redis-adapter wire).

An admin connected to either server sees the other's sockets (``all_sockets`` through the cluster's
fetchSockets) and server_stats, and hears its live events: the two instrumentations speak one
protocol, over one adapter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from admin_support import Instrumented, admin_event, admin_event_where, connect_admin, connect_user
from node_driver import NodeDriver

import aiosio
from cluster.redis_fixtures import RedisServer, running_redis
from peers import require_executable
from processes import ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]
HERE = Path(__file__).resolve().parent


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh standalone redis-server (SIGKILLed by pid at teardown)."""
    with running_redis(require_executable("redis-server"), tmp_path / "redis") as server:
        yield server


async def stats_from(node: NodeDriver, client: str, server_id: str) -> dict[str, object]:
    """The next server_stats an admin client gets from ``server_id``."""
    args = await admin_event_where(node, "server_stats", lambda a: a[0]["serverId"] == server_id, client)
    return dict(args[0])


async def test_aiosio_and_node_admin_ui_share_a_cluster(
    redis_server: RedisServer,
    start: Callable[[list[str]], ServerProcess],
    node: NodeDriver,
    instrumented: Instrumented,
) -> None:
    """Each side's admin lists the other side's sockets and stats and hears its connections."""
    sio, _, py_url = await instrumented(
        aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(redis_server.url)),
        server_id="py",
        auth=False,
    )
    node_server = start(["node", str(HERE / "node_admin_server.js"), json.dumps({"redis": redis_server.url})])
    async with asyncio.timeout(10):
        while await sio.server_count() != 2:
            await asyncio.sleep(0.05)

    on_node = await connect_user(node, node_server.url, "on-node")
    assert await node.call("on-node", "join", "green") == ["joined"]
    on_py = await connect_user(node, py_url, "on-py")
    assert await node.call("on-py", "join", "blue") == ["joined"]

    # An admin on the aiosio server: the Node server's socket, with what Node's admin-ui keeps.
    await connect_admin(node, py_url, client="py-admin", transports=["websocket"], auth={})
    (sockets,) = await admin_event(node, "all_sockets", "py-admin")
    record = next(s for s in sockets if s["id"] == on_node)
    assert set(record["rooms"]) == {on_node, "green"}
    assert record["transport"] == "websocket" and record["clientId"]
    assert "_admin" not in record["data"]
    assert await stats_from(node, "py-admin", "node")

    # An admin on the Node server: the aiosio server's socket and stats.
    await connect_admin(node, node_server.url, client="node-admin", transports=["websocket"], auth={})
    (sockets,) = await admin_event(node, "all_sockets", "node-admin")
    record = next(s for s in sockets if s["id"] == on_py)
    assert set(record["rooms"]) == {on_py, "blue"}
    # What aiosio's fetch answer says in Node admin-ui's _admin: the Node admin groups by it.
    assert record["clientId"] == sio._sockets[on_py].eio_sid and record["transport"] == "websocket"
    assert "_admin" not in record["data"] and sio._sockets[on_py].user is None
    py_stats = await stats_from(node, "node-admin", "py")
    assert {"name": "/", "socketsCount": 1} in py_stats["namespaces"]  # type: ignore[operator]

    # Live events cross both ways.
    later_py = await connect_user(node, py_url, "later-py")
    await admin_event_where(node, "socket_connected", lambda a: a[0]["id"] == later_py, "node-admin")
    later_node = await connect_user(node, node_server.url, "later-node")
    await admin_event_where(node, "socket_connected", lambda a: a[0]["id"] == later_node, "py-admin")
