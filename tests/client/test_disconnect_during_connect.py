"""disconnect() called while connect() is finishing (the last namespace just joined, connect() not
yet returned): the connection ends as any disconnect ends one, and wait() returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_a_disconnect_as_connect_finishes_ends_it(serve: Any, transports: list[str]) -> None:
    sio = aiosio.AsyncServer()
    left: list[str] = []
    sio.on("disconnect", lambda sid, reason: left.append(reason))
    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    reasons: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    @client.event
    async def connect() -> None:
        # Runs before connect() returns: the disconnect starts while the attempt is finishing.
        tasks.append(asyncio.ensure_future(client.disconnect()))

    @client.event
    async def disconnect(reason: str) -> None:
        reasons.append(reason)

    await client.connect(handle.url, transports=transports)
    await asyncio.wait_for(client.wait(), 5)
    assert not client.connected
    assert reasons == [client.reason.CLIENT_DISCONNECT]
    async with asyncio.timeout(5):
        while not left:
            await asyncio.sleep(0.01)
