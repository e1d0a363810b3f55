"""AsyncSimpleClient against both peers in every transport mode."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio import exceptions
from aiosio.client import AsyncSimpleClient

from .conftest import AUTH

pytestmark = pytest.mark.timeout(60)


async def test_simple_client(peer: Any, mode: str, transports: Any) -> None:
    async with AsyncSimpleClient(handle_sigint=False) as client:
        await client.connect(peer.url, auth=AUTH, transports=transports, namespace="/chat")
        assert client.connected
        assert client.sid
        assert client.transport in ("polling", "websocket")
        await client.emit("emit_to_me", ("news", "a", b"\x00"))
        assert await client.receive(timeout=5) == ["news", "a", b"\x00"]
        assert await client.call("echo", {"x": 1}, timeout=5) == {"x": 1}
        with pytest.raises(exceptions.TimeoutError):
            await client.receive(timeout=0.1)
        with pytest.raises(RuntimeError):
            await client.connect(peer.url, auth=AUTH)
    assert not client.connected
    assert client.sid is None and client.transport == ""
    with pytest.raises(exceptions.DisconnectedError):
        await client.emit("echo", 1)


async def test_simple_client_server_disconnect(peer: Any, transports: Any) -> None:
    client = AsyncSimpleClient(handle_sigint=False)
    await client.connect(peer.url, auth=AUTH, transports=transports)
    await client.emit("disconnect_me")
    with pytest.raises(exceptions.DisconnectedError):
        await client.receive(timeout=5)
    assert not client.connected
    await client.disconnect()


async def test_simple_client_refused(peer: Any) -> None:
    client = AsyncSimpleClient(handle_sigint=False)
    with pytest.raises(exceptions.ConnectionError):
        await client.connect(peer.url, auth={"token": "no"})
    assert not client.connected
    with pytest.raises(exceptions.DisconnectedError):
        await client.call("echo", 1)


async def test_simple_client_queues_events_in_order(peer: Any, transports: Any) -> None:
    async with AsyncSimpleClient(handle_sigint=False) as client:
        await client.connect(peer.url, auth=AUTH, transports=transports)
        for i in range(5):
            await client.emit("emit_to_me", ("n", i))
        assert [await client.receive(timeout=5) for _ in range(5)] == [["n", i] for i in range(5)]
