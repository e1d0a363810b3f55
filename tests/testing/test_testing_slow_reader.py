"""A test client that stops reading (pause_reading): the server's outbound limits apply to it as
to a stalled network client. Volatile emits are dropped once it falls behind; past the queue
limit the server closes it as a slow consumer."""

from __future__ import annotations

import asyncio

import pytest

import aiosio
from aiosio.testing import TestServer


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_volatile_emits_are_dropped_while_the_client_is_behind(transport: str) -> None:
    sio = aiosio.AsyncServer(volatile_threshold=1000)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        await sio.emit("live", 1, volatile=True)
        assert (await client.receive("live")).data == 1  # reading: delivered
        client.pause_reading()
        await settle()
        await sio.emit("bulk", "x" * 2000)  # not volatile: kept for the client
        # A GET already waiting still gets its answer (with what joins it in the same turn); after
        # it none waits. On WebSocket the 2000 bytes stay unread, over the threshold.
        await settle()
        await sio.emit("live", 2, volatile=True)  # behind: dropped
        client.resume_reading()
        assert (await client.receive("bulk")).data == "x" * 2000
        await settle()  # on polling: the next GET is sent
        await sio.emit("live", 3, volatile=True)
        assert (await client.receive("live")).data == 3
        assert [r.data for r in client.received if r.event == "live"] == [1, 3]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_that_stops_reading_is_closed_as_a_slow_consumer(transport: str) -> None:
    sio = aiosio.AsyncServer(max_queue_bytes=20_000, max_queue_packets=50)
    reasons: list[str] = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        other = await server.connect(transport=transport)
        client.pause_reading()
        await settle()
        for _ in range(30):
            await sio.emit("bulk", "x" * 1000, to=client.sid)
        await asyncio.sleep(0.01)
        assert reasons == ["slow consumer"]
        assert client.eio_sid not in sio.eio.sockets and other.eio_sid in sio.eio.sockets
        client.resume_reading()
        for _ in range(100):
            if not client.connected:
                break
            await asyncio.sleep(0.005)
        assert not client.connected
        sio.on("echo", lambda sid, x: x)
        assert other.connected and await other.call("echo", 5) == 5
