"""Fixtures of the cluster tests: real redis-server processes, and Node socket.io nodes on them.

- ``redis_server`` (module scope): a standalone redis-server 7 on 127.0.0.1 (``.url``, ``.port``,
  ``.pid``, ``.restart()`` / ``await .restart_async()``, ``.flush()``, ``.client()``), see
  :class:`redis_fixtures.RedisServer`.
- ``redis_cluster`` (session scope): a Redis Cluster of 3 masters (``.urls``, ``.ports``, ``.pids``,
  ``.nodes``), see :class:`redis_fixtures.RedisClusterServers`.
- ``node_cluster_node``: ``peer = await node_cluster_node(profile, redis_url, name="A", **opts)``
  starts a Node socket.io server on @socket.io/redis-adapter (:class:`node_peer.NodePeer`); every one
  is stopped (``exit``, then SIGKILL by pid) at teardown, frozen ones thawed first.
- ``monitor``: ``async with monitor(url) as mon`` records every command Redis runs
  (:class:`monitor.RedisMonitor`).

A missing redis-server, redis-cli, node or npm peer skips the tests locally and fails them on CI
(tests/peers.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from peers import require_executable, require_node

from .monitor import RedisMonitor
from .node_peer import NodePeer
from .redis_fixtures import RedisClusterServers, RedisServer, running_redis, running_redis_cluster


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh standalone redis-server for this module (SIGKILLed by pid at teardown)."""
    with running_redis(require_executable("redis-server"), tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A Redis Cluster of three masters, no replicas (each master SIGKILLed by pid at teardown)."""
    server, cli = require_executable("redis-server"), require_executable("redis-cli")
    with running_redis_cluster(server, cli, tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


NodeFactory = Callable[..., Awaitable[NodePeer]]


@pytest.fixture
async def node_cluster_node() -> AsyncIterator[NodeFactory]:
    """Factory: ``await node_cluster_node(profile, redis_url, name=..., **opts)`` -> a running NodePeer.

    ``profile`` is ``classic`` or ``sharded``; pass ``cluster=redis_cluster.urls`` instead of a url for a
    Redis Cluster. Options: see :meth:`node_peer.NodePeer.start`.
    """
    require_node()
    started: list[NodePeer] = []

    async def make(profile: str, redis_url: str | None = None, **opts: Any) -> NodePeer:
        opts.setdefault("name", "ABCDEFGH"[len(started) % 8])
        peer = await NodePeer.start(profile, redis_url, **opts)
        started.append(peer)
        return peer

    try:
        yield make
    finally:
        for peer in reversed(started):
            await peer.stop()


@pytest.fixture
def monitor() -> Callable[[str], RedisMonitor]:
    """``async with monitor(redis_server.url) as mon``: a MONITOR recorder (closed by the ``with``)."""
    return RedisMonitor
