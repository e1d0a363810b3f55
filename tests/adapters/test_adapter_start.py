"""The adapter's ``init``: once, shared by concurrent first connections; a failure refuses
connections (logged once per attempt) and the next connection tries again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio  # python-socketio, as the client peer only

import aiosio
from aiosio.adapters.memory import MemoryAdapter

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0


class Flaky(MemoryAdapter):
    """``init`` is slow, and fails the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.inits = 0
        self.hosts: list[Any] = []

    async def init(self, host: Any) -> None:
        self.inits += 1
        self.hosts.append(host)
        await asyncio.sleep(0.2)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the cluster is not reachable")


def _server(adapter: Flaky) -> aiosio.AsyncServer:
    manager = aiosio.AsyncManager()
    manager.adapter = adapter
    return aiosio.AsyncServer(client_manager=manager)


async def _connect(url: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"], wait_timeout=WAIT)
    return client


@pytest.mark.allow_server_errors("the adapter failed to start")
async def test_a_failed_init_is_retried_once_for_concurrent_connections(serve: Any) -> None:
    """The init at app startup fails (logged); the next connections, arriving together, wait for
    one new init and are then served."""
    adapter = Flaky(failures=1)
    sio = _server(adapter)
    handle = await serve(sio)
    assert adapter.inits == 1  # at app startup, failed
    clients = await asyncio.gather(*(_connect(handle.url) for _ in range(3)))
    assert adapter.inits == 2
    assert all(c.connected for c in clients)
    assert "/" in adapter.hosts[-1].served_namespaces()
    for c in clients:
        await c.disconnect()


@pytest.mark.allow_server_errors("the adapter failed to start")
async def test_connections_are_refused_while_init_fails(serve: Any) -> None:
    adapter = Flaky(failures=2)
    sio = _server(adapter)
    handle = await serve(sio)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(handle.url)
    client = await _connect(handle.url)
    assert client.connected
    assert adapter.inits == 3
    await client.disconnect()
