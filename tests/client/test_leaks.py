"""The client leaves no task or socket behind: many connect/disconnect cycles return to the baseline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio import exceptions

from .conftest import AUTH, fd_count, until
from .test_peers import make_client

pytestmark = pytest.mark.timeout(120)


#: These tests count every task of the process, so they can't run beside python-socketio's server:
#: that peer runs in this process and keeps each departed client's long-polling request, queue wait
#: and ping task until its ping timeout, which a task count cannot tell from a leak in the client.
#: The client code under test is the same for every server; aiosio's and Node's peers cover it.
LEAK_PEERS = ["aiosio", pytest.param("node", marks=pytest.mark.interop)]


def snapshot() -> tuple[int, int]:
    return len(asyncio.all_tasks()), fd_count()


async def settle(baseline: tuple[int, int]) -> None:
    tasks0, fds0 = baseline
    try:
        await until(lambda: len(asyncio.all_tasks()) <= tasks0 and fd_count() <= fds0, timeout=10)
    except AssertionError:
        now = f"tasks {tasks0} -> {len(asyncio.all_tasks())}, fds {fds0} -> {fd_count()}"
        raise AssertionError(f"leak: {now}") from None


@pytest.mark.parametrize("peer", LEAK_PEERS, indirect=True)
async def test_connect_disconnect_cycles(peer: Any, transports: Any) -> None:
    # Warm up once: the first connection imports modules and may open lasting resources (resolver).
    warm = make_client()
    await warm.connect(peer.url, auth=AUTH, transports=transports)
    await warm.disconnect()
    await asyncio.sleep(0.2)
    baseline = snapshot()
    for i in range(20):
        client = make_client()
        client.on("question", lambda payload: payload)
        await client.connect(peer.url, auth=AUTH, transports=transports, namespaces=["/", "/chat"])
        assert await client.call("echo", (i, b"bin"), namespace="/chat", timeout=5) == (i, b"bin")
        assert await client.call("ask_client", i, timeout=5) == i
        if i % 2:
            pending = await client.emit("nobody_home", timeout=30)  # fails on disconnect, leaves nothing
            assert pending is not None
        await client.disconnect()
    await settle(baseline)


@pytest.mark.parametrize("peer", LEAK_PEERS, indirect=True)
async def test_same_client_reused(peer: Any, transports: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH, transports=transports)
    await client.disconnect()
    await asyncio.sleep(0.2)
    baseline = snapshot()
    for i in range(10):
        await client.connect(peer.url, auth=AUTH, transports=transports)
        assert await client.call("echo", i, timeout=5) == i
        await client.disconnect()
    await settle(baseline)


@pytest.mark.parametrize("own_peer", LEAK_PEERS, indirect=True)
async def test_failed_attempts_and_reconnection_cycles(own_peer: Any, transports: Any) -> None:
    client = make_client(reconnection_delay=0.02, reconnection_delay_max=0.05)
    await client.connect(own_peer.url, auth=AUTH, transports=transports)
    await client.disconnect()
    await asyncio.sleep(0.2)
    baseline = snapshot()
    for _ in range(3):
        await client.connect(own_peer.url, auth=AUTH, transports=transports)
        await own_peer.stop()
        await until(lambda: not client.connected)
        await asyncio.sleep(0.2)  # several refused attempts
        await own_peer.start()
        await until(lambda: client.connected, timeout=20)
        await client.disconnect()
    with pytest.raises(exceptions.ConnectionError):
        await client.connect(own_peer.url, auth={"token": "bad"}, transports=transports)
    await settle(baseline)
