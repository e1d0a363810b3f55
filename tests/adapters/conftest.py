"""Fixtures of the adapter contract suite: every test runs once per adapter in ``ADAPTERS``.

A new adapter proves itself by adding a factory to ``ADAPTERS`` (contract_support.py) and passing
the suite. Each test drives real aiosio servers (127.0.0.1, random port) with real python-socketio
clients and calls the adapter through the public seams: ``AsyncServer`` methods and ``sio.manager.adapter``.

The Redis adapters run on a real redis-server (one per session, :class:`RedisServer` of
tests/cluster/redis_fixtures.py) or a 3-master Redis Cluster (the cluster modes), each test on a
channel prefix of its own, so no test sees another's traffic. ``fleet`` makes several servers
of one cluster (tests/adapters/test_contract_cluster.py); ``cluster`` one server alone
(tests/adapters/test_contract.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from contract_support import (  # the suite's pieces
    ADAPTERS,
    WAIT,
    AdapterFactory,
    Cluster,
    Fleet,
    until_count,
)

import aiosio
from cluster.redis_fixtures import (  # tests/cluster's runners
    RedisClusterServers,
    RedisServer,
    running_redis,
    running_redis_cluster,
)
from peers import require_executable


@pytest.fixture(scope="session")
def contract_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server 7 for the Redis adapters of the suite (SIGKILLed by pid at teardown)."""
    with running_redis(
        require_executable("redis-server"), tmp_path_factory.mktemp("contract-redis")
    ) as server:
        yield server


@pytest.fixture(scope="session")
def contract_redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A Redis Cluster of 3 masters for the cluster modes (each SIGKILLed by pid at teardown)."""
    server, cli = require_executable("redis-server"), require_executable("redis-cli")
    with running_redis_cluster(server, cli, tmp_path_factory.mktemp("contract-redis-cluster")) as masters:
        yield masters


@pytest.fixture(params=list(ADAPTERS))
def adapter_factory(request: pytest.FixtureRequest) -> AdapterFactory:
    """The adapter under test, with a fresh channel prefix (and Redis, if it needs it)."""
    name = str(request.param)
    kind = ADAPTERS[name]
    channel = f"contract-{uuid.uuid4().hex[:10]}"
    if kind.redis == "cluster":
        masters: RedisClusterServers = request.getfixturevalue("contract_redis_cluster")
        return AdapterFactory(name, kind, masters.urls[0], channel, tuple(masters.nodes))
    if kind.redis:
        server: RedisServer = request.getfixturevalue("contract_redis")
        return AdapterFactory(name, kind, server.url, channel, (server,))
    return AdapterFactory(name, kind, "", channel)


async def _disconnect_peers(made: list[Cluster]) -> None:
    """Disconnect every peer, then wait until the servers have let their sockets go and their
    room (un)subscriptions are confirmed, so each shuts down idle. (Shutting down in the middle
    of those is tested on its own: test_contract_cluster.py, test_a_server_shut_down_while_...)"""
    for c in made:
        for peer in c.peers.values():
            if peer.client.connected:
                await peer.client.disconnect()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WAIT):
            for c in made:
                manager = c.sio.manager
                while any(list(manager.get_participants(ns, None)) for ns in manager.get_namespaces()):
                    await asyncio.sleep(0.01)
    await Fleet(made).rooms_ready()


@pytest.fixture
async def cluster(
    serve: Any, adapter_factory: AdapterFactory
) -> AsyncIterator[Callable[..., Awaitable[Cluster]]]:
    """``c = await cluster()``: an aiosio server whose manager's adapter is a (spied) instance of
    the adapter under test. Peers are disconnected at teardown."""
    made: list[Cluster] = []

    async def _make(**server_kwargs: Any) -> Cluster:
        manager = adapter_factory.manager()
        sio = aiosio.AsyncServer(client_manager=manager, **server_kwargs)
        handle = await serve(sio)
        c = Cluster(sio, manager.adapter, handle.url)
        made.append(c)
        return c

    yield _make
    await _disconnect_peers(made)


@pytest.fixture
async def fleet(
    serve: Any, adapter_factory: AdapterFactory
) -> AsyncIterator[Callable[..., Awaitable[Fleet]]]:
    """``f = await fleet(n)``: ``n`` aiosio servers on the adapter under test, in one cluster, each
    counting ``n`` servers before it is handed over. Peers are disconnected at teardown, then the
    servers shut down (the ``serve`` fixture)."""
    made: list[Cluster] = []

    async def _make(count: int = 2, **server_kwargs: Any) -> Fleet:
        nodes: list[Cluster] = []
        for _ in range(count):
            manager = adapter_factory.manager()
            sio = aiosio.AsyncServer(client_manager=manager, **server_kwargs)
            handle = await serve(sio)
            nodes.append(Cluster(sio, manager.adapter, handle.url))
        made.extend(nodes)
        await until_count(nodes, count)
        return Fleet(nodes)

    yield _make
    await _disconnect_peers(made)
