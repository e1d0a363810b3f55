"""The Engine.IO client's upgrade, driven by the session machine (protocol/eio_session.py), against
aiosio's own Engine.IO server: packets sent without pause across the switch all arrive, once and in
order, and the client sends nothing over polling once the probe is answered (UPGRADING), so no POST
can reach the server after the switch (it would get 400 and end the session).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio.engineio
from aiosio.client.engine import EngineConnection, EngineOptions
from aiosio.protocol.eio_session import State
from aiosio.protocol.engineio import PacketType
from aiosio.protocol.frames import Frame

pytestmark = pytest.mark.timeout(30)
log = logging.getLogger("test.engine.upgrade")


@pytest.mark.parametrize("attempt", range(3))
async def test_sends_during_the_upgrade_arrive_once_in_order(serve: Any, attempt: int) -> None:
    eio = aiosio.engineio.AsyncServer()
    received: list[str] = []

    @eio.on("message")
    def message(sid: str, data: Any) -> None:
        received.append(data)

    handle = await serve(eio, engineio_path="engine.io")
    closed: list[str] = []
    engine = EngineConnection(EngineOptions(), lambda _data: None, closed.append, log)
    # The client's own state whenever it starts a POST.
    post_states: list[State] = []
    request = engine._request

    async def recording(method: str, url: str, timeout: float, body: bytes | None = None) -> bytes:
        if method == "POST":
            post_states.append(engine._machine.state)
        return await request(method, url, timeout, body)

    engine._request = recording  # type: ignore[method-assign]
    await engine.open(handle.url, {}, ("polling", "websocket"), "engine.io")
    sent = 0
    states: set[State] = set()
    try:
        async with asyncio.timeout(10):
            # Keep sending, a few packets per loop turn, until well after the switch.
            while engine.transport != "websocket" or sent < 400:
                assert engine.send([Frame.text(PacketType.MESSAGE, str(sent).encode())])
                sent += 1
                states.add(engine._machine.state)
                await asyncio.sleep(0)
            while len(received) < sent and not closed:
                await asyncio.sleep(0.01)
    finally:
        await engine.close()
    assert closed == []
    assert State.UPGRADING not in post_states
    assert State.UPGRADING in states or State.PROBING in states, "nothing was sent during the upgrade"
    assert received == [str(i) for i in range(sent)]
    refused = [r for r in handle.requests if r[2] != 200 and r[2] != 101]
    assert refused == []
