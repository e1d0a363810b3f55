"""npm socket.io-client upgrading from polling to WebSocket while the server emits without pause:
every event arrives once, in order (docs/reliability.md, "Order per socket").

The client joins "/" over polling and upgrades right after, so events emitted from the connect
handler on keep coming while the upgrade is in progress (the test checks that some did).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from node_driver import NodeDriver

import aiosio

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_emits_during_upgrade_arrive_once_in_order(serve: Any, node: NodeDriver) -> None:
    sio = aiosio.AsyncServer()
    sent: list[int] = []
    streams: list[asyncio.Task[Any]] = []
    during_upgrade = 0

    async def stream(sid: str) -> None:
        nonlocal during_upgrade
        session = sio._sockets[sid].session
        after = 0
        while after < 50 and len(sent) < 5_000:
            await sio.emit("seq", len(sent), to=sid)
            sent.append(len(sent))
            during_upgrade += session.upgrading
            after += session.upgraded
            await asyncio.sleep(0.0005)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        streams.append(asyncio.ensure_future(stream(sid)))

    handle = await serve(sio)
    await node.connect("c", handle.url)
    await node.event("upgrade", timeout=10)
    try:
        await asyncio.wait_for(asyncio.gather(*streams), 20)
    finally:
        for task in streams:
            task.cancel()
    assert during_upgrade > 0, "nothing was emitted during the upgrade: the test proves nothing"
    received: list[int] = []
    async with asyncio.timeout(10):
        while len(received) < len(sent):
            event = await node.event("event", client="c", event="seq")
            received.append(event["args"][0])
    await asyncio.sleep(0.1)
    assert node.unclaimed("event", client="c", event="seq") == [], "duplicates arrived"
    assert received == sent
