"""Losing the connection: fail-fast acks, buffered emits, reconnection with backoff, ping timeout."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from aiosio import exceptions
from aiosio.client import AsyncClient

from .conftest import AUTH, NodePeer, until
from .test_peers import check_transport, make_client

pytestmark = pytest.mark.timeout(90)

LOST = (AsyncClient.reason.TRANSPORT_CLOSE, AsyncClient.reason.TRANSPORT_ERROR)


async def test_reconnect_after_server_restart(own_peer: Any, mode: str, transports: Any) -> None:
    client = make_client()
    auth_calls = 0

    def auth() -> dict[str, str]:
        nonlocal auth_calls
        auth_calls += 1
        return AUTH

    events: list[Any] = []
    client.on("connect", lambda: events.append("connect /"))
    client.on("connect", lambda: events.append("connect /chat"), namespace="/chat")
    client.on("disconnect", lambda reason: events.append(("disconnect /", reason)))
    client.on("disconnect", lambda reason: events.append(("disconnect /chat", reason)), namespace="/chat")
    await client.connect(own_peer.url, auth=auth, transports=transports, namespaces=["/", "/chat"])
    await check_transport(client, mode)
    old_sid = client.get_sid()
    never_acked = asyncio.ensure_future(client.call("nobody_home", timeout=60))
    await asyncio.sleep(0.05)

    await own_peer.stop()
    # The pending call fails at once, not after its 60 s timeout.
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(never_acked, 5)
    await until(lambda: not client.connected)
    await until(lambda: len([e for e in events if e[0].startswith("disconnect")]) == 2)
    reasons = {e[1] for e in events if e[0].startswith("disconnect")}
    assert len(reasons) == 1 and reasons <= set(LOST), reasons

    # Emitted while down: buffered, then delivered once the namespace is joined again.
    await client.emit("store", "down-1")
    await client.emit("store", "down-2", namespace="/chat")
    acked = await client.emit("echo", "buffered-ack", timeout=20)
    assert acked is not None
    await asyncio.sleep(0.3)  # let a few attempts fail
    events.clear()
    await own_peer.start()

    assert await asyncio.wait_for(acked, 20) == "buffered-ack"
    await until(lambda: client.connected and set(client.namespaces) == {"/", "/chat"}, timeout=20)
    assert sorted(events) == ["connect /", "connect /chat"]
    stored = await client.call("get_stored", timeout=5)
    assert sorted(stored) == ["down-1", "down-2"]
    assert client.get_sid() != old_sid
    assert auth_calls >= 2  # auth was evaluated again for the reconnection
    await check_transport(client, mode)
    await client.disconnect()
    assert events[-1][1] == "client disconnect"


async def test_disconnect_stops_reconnection(own_peer: Any, transports: Any) -> None:
    client = make_client(reconnection_delay=0.05, reconnection_delay_max=0.05)
    connect_errors: list[Any] = []
    client.on("connect_error", lambda data: connect_errors.append(data))
    await client.connect(own_peer.url, auth=AUTH, transports=transports)
    await own_peer.stop()
    await until(lambda: len(connect_errors) >= 2)  # failed attempts report connect_error
    buffered = await client.emit("echo", "x", timeout=60)
    assert buffered is not None
    await asyncio.wait_for(client.disconnect(), 5)
    await asyncio.wait_for(client.wait(), 5)
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(buffered, 1)
    with pytest.raises(exceptions.BadNamespaceError):
        await client.emit("echo", "after")


async def test_reconnection_attempts_exhausted(own_peer: Any) -> None:
    client = make_client(reconnection_attempts=2, reconnection_delay=0.01, reconnection_delay_max=0.02)
    attempts: list[Any] = []
    client.on("connect_error", lambda data: attempts.append(data))
    await client.connect(own_peer.url, auth=AUTH)
    await own_peer.stop()
    await asyncio.wait_for(client.wait(), 10)
    assert len(attempts) == 2
    assert not client.connected


async def test_no_reconnection_when_disabled(own_peer: Any, transports: Any) -> None:
    client = make_client(reconnection=False)
    reasons: list[str] = []
    client.on("disconnect", lambda reason: reasons.append(reason))
    await client.connect(own_peer.url, auth=AUTH, transports=transports)
    await own_peer.stop()
    await asyncio.wait_for(client.wait(), 10)
    assert len(reasons) == 1 and reasons[0] in LOST
    with pytest.raises(exceptions.BadNamespaceError):
        await client.emit("echo", 1)


async def test_emit_buffer_bound_and_switch(own_peer: Any) -> None:
    client = make_client(max_buffered_emits=3, reconnection_delay=5, reconnection_delay_max=5)
    await client.connect(own_peer.url, auth=AUTH)
    await own_peer.stop()
    await until(lambda: not client.connected)
    for i in range(3):
        await client.emit("store", i)
    with pytest.raises(exceptions.BadNamespaceError, match="buffer is full"):
        await client.emit("store", 3)
    await client.disconnect()

    unbuffered = make_client(buffer_emits=False, reconnection_delay=5, reconnection_delay_max=5)
    await own_peer.start()
    await unbuffered.connect(own_peer.url, auth=AUTH)
    await own_peer.stop()
    await until(lambda: not unbuffered.connected)
    with pytest.raises(exceptions.BadNamespaceError):
        await unbuffered.emit("store", 1)
    await unbuffered.disconnect()


async def test_buffered_emit_with_expired_deadline_is_dropped(own_peer: Any) -> None:
    client = make_client()
    await client.connect(own_peer.url, auth=AUTH)
    await own_peer.stop()
    await until(lambda: not client.connected)
    expired = await client.emit("store", "expired", timeout=0.05)
    await client.emit("store", "kept")
    assert expired is not None
    with pytest.raises(exceptions.TimeoutError):
        await asyncio.wait_for(expired, 2)
    await own_peer.start()
    await until(lambda: client.connected, timeout=20)
    assert await client.call("get_stored", timeout=5) == ["kept"]
    await client.disconnect()


async def test_connect_retry(own_peer: Any) -> None:
    await own_peer.stop()
    client = make_client(reconnection_delay=0.1, reconnection_delay_max=0.2)
    connecting = asyncio.ensure_future(client.connect(own_peer.url, auth=AUTH, retry=True))
    await asyncio.sleep(0.5)
    assert not connecting.done()
    await own_peer.start()
    await asyncio.wait_for(connecting, 20)
    assert client.connected
    await client.disconnect()


async def test_refused_reconnection_keeps_trying_with_fresh_auth(own_peer: Any) -> None:
    tokens = iter(["secret", "wrong", "wrong", "secret"])
    client = make_client(reconnection_delay=0.05, reconnection_delay_max=0.1)
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data))
    await client.connect(own_peer.url, auth=lambda: {"token": next(tokens)})
    await own_peer.stop()
    await until(lambda: not client.connected)
    await own_peer.start()
    await until(lambda: client.connected, timeout=20)
    refusals = [e for e in errors if isinstance(e, dict) and e.get("message") == "not authorized"]
    assert len(refusals) == 2
    await client.disconnect()


@pytest.mark.interop
async def test_server_closes_engine_connection(mode: str, transports: Any) -> None:
    peer = NodePeer()
    await peer.start()
    try:
        client = make_client()
        reasons: list[str] = []
        client.on("disconnect", lambda reason: reasons.append(reason))
        await client.connect(peer.url, auth=AUTH, transports=transports)
        await check_transport(client, mode)
        await client.emit("close_engine")
        await until(lambda: reasons == [AsyncClient.reason.TRANSPORT_CLOSE])
        await until(lambda: client.connected, timeout=20)
        assert await client.call("echo", "again", timeout=5) == "again"
        await client.disconnect()
    finally:
        await peer.stop()


@pytest.mark.interop
async def test_ping_timeout(mode: str, transports: Any) -> None:
    peer = NodePeer(ping_interval=300, ping_timeout=200)
    await peer.start()
    assert peer.proc is not None
    try:
        client = make_client()
        reasons: list[str] = []
        client.on("disconnect", lambda reason: reasons.append(reason))
        await client.connect(peer.url, auth=AUTH, transports=transports)
        await check_transport(client, mode)
        await asyncio.sleep(1)  # several ping/pong rounds keep it alive
        assert client.connected and reasons == []
        os.kill(peer.proc.pid, signal.SIGSTOP)  # the server goes silent without closing anything
        try:
            await until(lambda: reasons == [AsyncClient.reason.PING_TIMEOUT], timeout=3)
        finally:
            os.kill(peer.proc.pid, signal.SIGCONT)
        await until(lambda: client.connected, timeout=20)
        await client.disconnect()
    finally:
        await peer.stop()


async def test_sigint_stops_reconnection_and_handler_is_restored(own_peer: Any) -> None:
    from aiosio.client import sigint

    before = signal.getsignal(signal.SIGINT)
    client = make_client(handle_sigint=True, reconnection_delay=0.05, reconnection_delay_max=0.1)
    await client.connect(own_peer.url, auth=AUTH)
    assert signal.getsignal(signal.SIGINT) is sigint._handler
    await own_peer.stop()
    await until(lambda: not client.connected)
    client._on_sigint()  # what the handler does for each client, before chaining to the previous one
    await asyncio.wait_for(client.wait(), 5)
    assert signal.getsignal(signal.SIGINT) is before
