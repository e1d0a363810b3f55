"""The CLOSE a polling client sends after a failed request is fire-and-forget (like Node's
socket.io-client): a peer that never answers it does not delay the disconnect handlers nor the
reconnection; after a 400 (the server does not know the session) none is sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

import aiosio

pytestmark = pytest.mark.timeout(30)


class Peer:
    """An Engine.IO endpoint whose second GET fails with ``status``; it never answers a CLOSE."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.gets = 0
        self.closes: list[float] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "sid" not in request.query:
            handshake = {"sid": "abc", "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000}
            return web.Response(text="0" + json.dumps(handshake))
        if request.method == "GET":
            self.gets += 1
            if self.gets == 1:
                return web.Response(text="40")  # Socket.IO CONNECT accepted
            await asyncio.sleep(0.2)
            return web.Response(status=self.status, text="no")
        if await request.read() == b"1":
            self.closes.append(time.monotonic())
            await asyncio.sleep(30)  # a black-holed CLOSE
        return web.Response(text="ok")


@pytest.fixture
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Peer]:
    peer = Peer(request.param)
    app = web.Application()
    app.router.add_route("*", "/socket.io/", peer.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    peer.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield peer
    await runner.cleanup()


async def _disconnected_after(peer: Peer, close_expected: bool = False) -> float:
    client = aiosio.AsyncClient(reconnection=False)
    gone = asyncio.Event()

    @client.event
    async def disconnect(reason: str | None = None) -> None:
        gone.set()

    await client.connect(peer.url, transports=["polling"])
    started = time.monotonic()
    await asyncio.wait_for(gone.wait(), 10)
    took = time.monotonic() - started
    if close_expected:  # the goodbye is sent in the background: it may land just after the handler
        deadline = time.monotonic() + 2
        while not peer.closes and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    await client.disconnect()
    return took


@pytest.mark.parametrize("peer", [500], indirect=True)
async def test_an_unanswered_close_does_not_delay_the_disconnect(peer: Peer) -> None:
    took = await _disconnected_after(peer, close_expected=True)
    assert len(peer.closes) == 1  # the CLOSE was sent ...
    assert took < 1.2  # ... and nobody waited for its answer (the GET failed after 0.2 s)


@pytest.mark.parametrize("peer", [400], indirect=True)
async def test_no_close_after_unknown_session(peer: Peer) -> None:
    await _disconnected_after(peer)
    await asyncio.sleep(0.2)
    assert peer.closes == []
