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

from aiosio.transport.aiohttp_compat import _UNUSED_LOCK, _UNUSED_TASKS, release_after_upgrade


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
            # The 101's headers stay readable (access-log %{..}o fields, middlewares).
            assert after["response_headers"] == seen.before["response_headers"] >= 3
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
    assert WS.headers == {"Upgrade": "websocket"}  # the response's headers are never touched


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


async def _serve(handle: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/ws"


async def test_reading_back_pressure_after_the_release() -> None:
    """A flood into a handler that reads late (aiohttp pauses and resumes reading the socket) after
    the release: every message arrives, and the protocol still counts itself upgraded (aiohttp's
    pause_reading asserts on the released parser otherwise, and resume_reading would feed it)."""
    frames, size = 200, 60_000
    seen: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=size * 2)
        await ws.prepare(request)
        release_after_upgrade(request, ws)
        await asyncio.sleep(1.0)  # the client's megabytes pile up unread meanwhile
        got = 0
        for n in range(frames):
            msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == bytes([n % 251]) * size
            got += 1
        seen["upgraded"] = getattr(request.protocol, "_upgraded", None)
        seen["parser"] = getattr(request.protocol, "_parser", "missing")
        await ws.send_str(str(got))
        await ws.receive(timeout=5)
        return ws

    runner, url = await _serve(handle)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            for n in range(frames):
                await ws.send_bytes(bytes([n % 251]) * size)
            assert await ws.receive_str(timeout=20) == str(frames)
    finally:
        await runner.cleanup()
    assert seen["parser"] is None  # released before the flood
    assert seen["upgraded"] is True


async def test_negotiated_deflate_keeps_the_writers_own_lock() -> None:
    """permessage-deflate negotiated: the writer compresses data frames under its own send lock and
    task set, so the release leaves both alone (sharing them would serialise every connection's
    compression and tie the lock to one event loop); echoes of every size still come back whole."""
    seen: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=True)
        await ws.prepare(request)
        writer: Any = ws._writer
        seen["compress"] = writer.compress
        lock, tasks = writer._send_lock, writer._background_tasks
        release_after_upgrade(request, ws)
        seen["lock_kept"] = writer._send_lock is lock and writer._send_lock is not _UNUSED_LOCK
        seen["tasks_kept"] = writer._background_tasks is tasks and tasks is not _UNUSED_TASKS
        seen["parser"] = getattr(request.protocol, "_parser", "missing")
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    runner, url = await _serve(handle)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
            assert ws.compress == 15  # the server agreed
            for size in (10, 20_000, 100_000):
                text = "ab" * (size // 2)
                await ws.send_str(text)
                assert await ws.receive_str(timeout=10) == text
    finally:
        await runner.cleanup()
    assert seen["compress"] == 15
    assert seen["parser"] is None  # the HTTP side was still released
    assert seen["lock_kept"] and seen["tasks_kept"]
