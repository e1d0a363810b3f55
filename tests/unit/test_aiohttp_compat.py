"""aiosio.transport.aiohttp_compat: the aiohttp private names it relies on, and what it releases.

If an aiohttp upgrade renames or reshapes one of these attributes, ``test_private_names`` fails
here, loudly, rather than the release quietly doing nothing (it is a no-op by design then: see
``test_missing_names_are_a_no_op``). A real aiohttp server on 127.0.0.1, a real client.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aiosio.transport.aiohttp_compat import _UNUSED_LOCK, release_after_upgrade


class _Seen:
    """What the server's WebSocket handler observed before and after the release."""

    def __init__(self) -> None:
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}
        self.headers: dict[str, str] = {}


def _state(request: web.Request, ws: web.WebSocketResponse) -> dict[str, Any]:
    handler: Any = request.protocol
    writer: Any = ws._writer
    return {
        "upgraded": handler._upgraded,
        "payload_parser": handler._payload_parser,
        "parser": handler._parser,
        "messages": handler._messages,
        "response_headers": len(ws.headers),
        "use_mask": writer.use_mask,
        "random_bits": writer.get_random_bits,
        "compress": writer.compress,
        "send_lock": writer._send_lock,
        "background_tasks": writer._background_tasks,
    }


@pytest.fixture
async def ws_server() -> AsyncIterator[tuple[str, _Seen]]:
    seen = _Seen()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        seen.before = _state(request, ws)
        release_after_upgrade(request, ws)
        seen.after = _state(request, ws)
        seen.headers = dict(request.headers)
        async for msg in ws:
            await ws.send_str(msg.data.upper())
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/ws", seen
    finally:
        await runner.cleanup()


async def test_private_names(ws_server: tuple[str, _Seen]) -> None:
    """The attributes exist, in the state the release expects, right after ``prepare``."""
    url, seen = ws_server
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str("hi")
        assert await ws.receive_str(timeout=5) == "HI"
    before = seen.before
    assert before["upgraded"] is True
    assert before["payload_parser"] is not None
    assert before["parser"] is not None, "aiohttp no longer keeps its HTTP parser: update aiohttp_compat"
    assert isinstance(before["messages"], deque) and not before["messages"]
    assert before["response_headers"] >= 3  # Upgrade, Connection, Sec-WebSocket-Accept (at least)
    assert before["use_mask"] is False
    assert callable(before["random_bits"])
    assert before["compress"] == 0
    assert isinstance(before["send_lock"], asyncio.Lock)
    assert before["background_tasks"] == set()


async def test_released_and_still_working(ws_server: tuple[str, _Seen]) -> None:
    """Everything listed is let go, and the WebSocket (and the next connection) keep working."""
    url, seen = ws_server
    # The shared lock stays held throughout: a writer that took it for an uncompressed frame (an
    # aiohttp that changed how it sends them) would hang here instead of answering.
    await _UNUSED_LOCK.acquire()
    try:
        await _exchange(url, seen)
    finally:
        _UNUSED_LOCK.release()


async def _exchange(url: str, seen: _Seen) -> None:
    async with aiohttp.ClientSession() as http:
        for word in ("one", "two"):  # the second connection: nothing shared got corrupted
            async with http.ws_connect(url) as ws:
                for _ in range(3):
                    await ws.send_str(word)
                    assert await ws.receive_str(timeout=5) == word.upper()
                await ws.ping()
            assert ws.close_code == aiohttp.WSCloseCode.OK
            after = seen.after
            assert after["parser"] is None
            assert after["messages"] == () and not after["messages"]
            assert after["payload_parser"] is seen.before["payload_parser"]
            assert after["response_headers"] == 0
            assert after["random_bits"] is not seen.before["random_bits"]
            assert after["send_lock"] is not seen.before["send_lock"]
            assert after["background_tasks"] is not seen.before["background_tasks"]
            # What the application reads is untouched.
            assert seen.headers["Upgrade"].lower() == "websocket"
        # Plain HTTP on the same server still parses requests.
        async with http.get(url) as resp:
            assert resp.status == 400  # not a WebSocket request: aiohttp's own answer


def test_missing_names_are_a_no_op() -> None:
    """A handler without the expected attributes (another aiohttp) is left alone, no error."""

    class Handler:
        _upgraded = True
        _payload_parser = object()
        # no _parser, no _messages

    class Request:
        protocol = Handler()

    class Headers(dict[str, str]):
        pass

    class WS:
        headers = Headers(Upgrade="websocket")
        _writer = None

    release_after_upgrade(Request(), WS())  # type: ignore[arg-type]
    assert not hasattr(Handler, "_parser") and not hasattr(Request.protocol, "_messages")
    assert WS.headers == {}  # public API: always cleared


def test_pending_request_queue_is_kept() -> None:
    """A handler whose request queue is not empty (not a finished upgrade) keeps parser and queue."""

    class Handler:
        _upgraded = True
        _payload_parser = object()
        _parser = object()
        _messages = deque([("msg", "payload")])

    class Request:
        protocol = Handler()

    class WS:
        headers: dict[str, str] = {}
        _writer = None

    handler = Request.protocol
    parser = handler._parser
    release_after_upgrade(Request(), WS())  # type: ignore[arg-type]
    assert handler._parser is parser and len(handler._messages) == 1
