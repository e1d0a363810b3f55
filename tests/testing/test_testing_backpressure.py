"""A server that stops reading a test client (its handler backlog is full): ``call(timeout=)``
still times out on time, and leaving or closing does not wait for the server to read again."""

from __future__ import annotations

import asyncio
import time

import pytest

import aiosio
from aiosio import exceptions
from aiosio.testing import TestClient, TestServer


async def flood_until_blocked(client: TestClient) -> int:
    """Emit until the server stops taking packets; the count sent."""
    for sent in range(100):
        try:
            await asyncio.wait_for(client.emit("work", "x" * 500), 0.2)
        except TimeoutError:
            return sent
    raise AssertionError("the server never stopped reading")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_call_timeout_and_disconnect_under_backpressure(transport: str) -> None:
    sio = aiosio.AsyncServer(max_inflight=1, max_http_buffer_size=2000)
    release = asyncio.Event()
    handled: list[str] = []
    reasons: list[str] = []

    @sio.event
    async def work(sid: str, data: str) -> str:
        await release.wait()
        handled.append(data[:1])
        return "done"

    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        sent = await flood_until_blocked(client)
        assert sent > 0
        started = time.monotonic()
        with pytest.raises(exceptions.TimeoutError, match=r"no acknowledgement of 'work' within 0\.3s"):
            await asyncio.wait_for(client.call("work", "y", timeout=0.3), 5)
        assert time.monotonic() - started < 2  # the send waits within the same deadline
        started = time.monotonic()
        await asyncio.wait_for(client.disconnect(), 5)
        assert time.monotonic() - started < 2  # left without waiting for the server to read
        assert not client.connected and client.disconnect_reason == "client disconnect"
        assert reasons == ["client disconnect"]  # the Engine.IO CLOSE: what a real client sends
        assert sio.eio.sockets == {}
        release.set()
        await client.close()  # the handlers still running finish; nothing else is delivered
    assert "y" not in handled


async def test_sends_from_several_tasks_arrive_in_order_under_backpressure() -> None:
    sio = aiosio.AsyncServer(max_inflight=1, max_http_buffer_size=200)
    seen: list[int] = []

    @sio.event
    async def step(sid: str, n: int) -> None:
        await asyncio.sleep(0.001)
        seen.append(n)

    async with TestServer(sio) as server:
        client = await server.connect()
        await asyncio.gather(*(client.emit("step", n) for n in range(200)))
        await client.wait_idle()
    assert seen == list(range(200))
