"""The Engine.IO client against a scripted fake server: batching, heartbeat, upgrade fallbacks, errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aiosio import exceptions
from aiosio.client import AsyncClient
from aiosio.client.engine import EngineConnection, EngineError, EngineOptions
from aiosio.protocol.engineio import PacketType
from aiosio.protocol.frames import Frame

from .conftest import until

pytestmark = pytest.mark.timeout(30)
log = logging.getLogger("test.engine")


class FakeServer:
    """A minimal, scriptable Engine.IO endpoint (one session)."""

    def __init__(self, **handshake: Any) -> None:
        self.handshake = {"sid": "fake-sid", "upgrades": [], "pingInterval": 5000, "pingTimeout": 5000}
        self.handshake.update(handshake)
        self.posts: list[bytes] = []
        self.polls: asyncio.Queue[str] = asyncio.Queue()
        self.handshake_status = 200
        self.handshake_body = ""
        self.ws_mode = "ok"  # ok | reject | bad-probe
        self.ws_received: list[str] = []
        self.ws_send: asyncio.Queue[str] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("transport") == "websocket":
            return await self.handle_ws(request)
        if "sid" not in request.query:
            if self.handshake_status != 200:
                return web.Response(status=self.handshake_status, text=self.handshake_body)
            return web.Response(text="0" + json.dumps(self.handshake))
        if request.method == "POST":
            self.posts.append(await request.read())
            return web.Response(text="ok")
        try:
            body = await asyncio.wait_for(self.polls.get(), 0.3)
        except TimeoutError:
            body = "6"
        return web.Response(text=body)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        if self.ws_mode == "reject":
            return web.Response(status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if "sid" not in request.query:
            await ws.send_str("0" + json.dumps(self.handshake))
        else:
            probe = await ws.receive()
            assert probe.data == "2probe"
            await ws.send_str("3probe" if self.ws_mode == "ok" else "3nope")
            await self.polls.put("6")

        async def pump() -> None:
            while True:
                await ws.send_str(await self.ws_send.get())

        pumping = asyncio.ensure_future(pump())
        try:
            async for msg in ws:
                self.ws_received.append(msg.data)
        finally:
            pumping.cancel()
        return ws

    async def __aenter__(self) -> FakeServer:
        app = web.Application()
        app.router.add_route("*", "/socket.io/", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class Collector:
    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.closed: list[str] = []

    def engine(self, **options: Any) -> EngineConnection:
        return EngineConnection(EngineOptions(**options), self.messages.append, self.closed.append, log)


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    yield Collector()


async def test_polling_posts_respect_max_payload(collector: Collector) -> None:
    async with FakeServer(maxPayload=100) as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("polling",), "socket.io")
        try:
            frames = [Frame.text(PacketType.MESSAGE, b"m%02d" % i + b"x" * 17) for i in range(40)]
            frames.insert(10, Frame.text(PacketType.MESSAGE, b"y" * 300))  # oversized: goes alone
            frames.append(Frame(b"\x00\x01", binary=True))
            for frame in frames:
                engine.send([frame])
            await until(lambda: sum(len(p.split(b"\x1e")) for p in server.posts) == len(frames))
            parts = [part for post in server.posts for part in post.split(b"\x1e")]
            assert parts == [f.polling() for f in frames]
            assert parts[-1] == b"bAAE="
            for post in server.posts:
                assert len(post) <= 100 or b"\x1e" not in post
            assert len(server.posts) > 5  # really batched, and really split
        finally:
            await engine.close()
        assert server.posts[-1] == b"1"  # CLOSE on the way out
        assert collector.closed == []  # close() is not reported as a loss


async def test_messages_ping_pong_and_server_close_over_polling(collector: Collector) -> None:
    async with FakeServer() as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("polling",), "socket.io")
        await server.polls.put("4hello\x1ebAQI=\x1e2")
        await until(lambda: collector.messages == ["hello", b"\x01\x02"])
        await until(lambda: b"3" in server.posts)
        await server.polls.put("1")
        await until(lambda: collector.closed == ["transport close"])
        await engine.aclose()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_ping_timeout(collector: Collector, transport: str) -> None:
    async with FakeServer(pingInterval=100, pingTimeout=100) as server:
        engine = collector.engine()
        await engine.open(server.url, {}, (transport,), "socket.io")
        await asyncio.sleep(0.1)
        assert collector.closed == []
        await until(lambda: collector.closed == ["ping timeout"], timeout=2)
        await engine.aclose()


async def test_pings_keep_the_session_alive(collector: Collector) -> None:
    async with FakeServer(pingInterval=100, pingTimeout=100) as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("websocket",), "socket.io")
        for _ in range(6):
            await server.ws_send.put("2")
            await asyncio.sleep(0.08)
        assert collector.closed == []
        assert server.ws_received.count("3") == 6
        await engine.close()


async def test_parse_error(collector: Collector) -> None:
    async with FakeServer() as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("websocket",), "socket.io")
        await server.ws_send.put("9garbage")
        await until(lambda: collector.closed == ["parse error"])
        await engine.aclose()


async def test_upgrade(collector: Collector) -> None:
    async with FakeServer(upgrades=["websocket"]) as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("polling", "websocket"), "socket.io")
        await until(lambda: engine.transport == "websocket")
        assert server.ws_received == ["5"]
        engine.send([Frame.text(PacketType.MESSAGE, b"over-ws")])
        await until(lambda: "4over-ws" in server.ws_received)
        await engine.close()


@pytest.mark.parametrize("ws_mode", ["reject", "bad-probe"])
async def test_failed_upgrade_stays_on_polling(collector: Collector, ws_mode: str) -> None:
    async with FakeServer(upgrades=["websocket"]) as server:
        server.ws_mode = ws_mode
        engine = collector.engine()
        await engine.open(server.url, {}, ("polling", "websocket"), "socket.io")
        await asyncio.sleep(0.5)
        assert engine.transport == "polling" and engine.is_open
        engine.send([Frame.text(PacketType.MESSAGE, b"still-polling")])
        await until(lambda: b"4still-polling" in server.posts)
        await server.polls.put("4incoming")
        await until(lambda: collector.messages == ["incoming"])
        await engine.close()


async def test_no_upgrade_unless_offered(collector: Collector) -> None:
    async with FakeServer(upgrades=[]) as server:
        engine = collector.engine()
        await engine.open(server.url, {}, ("polling", "websocket"), "socket.io")
        await asyncio.sleep(0.3)
        assert engine.transport == "polling"
        await engine.close()


@pytest.mark.parametrize(
    ("status", "body", "data"),
    [
        (403, '{"code":4,"message":"Forbidden"}', {"code": 4, "message": "Forbidden"}),
        (500, "oops", "Unexpected status code 500 in server response"),
    ],
)
async def test_handshake_error_reaches_connect_error(status: int, body: str, data: Any) -> None:
    async with FakeServer() as server:
        server.handshake_status = status
        server.handshake_body = body
        client = AsyncClient(handle_sigint=False)
        errors: list[Any] = []
        client.on("connect_error", lambda d: errors.append(d))
        with pytest.raises(exceptions.ConnectionError, match=f"status code {status}"):
            await client.connect(server.url, transports=["polling"])
        assert errors == [data]


async def test_invalid_open_packet(collector: Collector) -> None:
    async with FakeServer(pingInterval="soon") as server:
        engine = collector.engine()
        with pytest.raises(EngineError, match="Invalid OPEN packet"):
            await engine.open(server.url, {}, ("polling",), "socket.io")


async def test_namespace_timeout(collector: Collector) -> None:
    # The fake server never answers CONNECT: wait_timeout bounds connect().
    async with FakeServer() as server:
        client = AsyncClient(handle_sigint=False)
        with pytest.raises(exceptions.ConnectionError, match="Timed out"):
            await client.connect(server.url, transports=["websocket"], wait_timeout=0.3)
        assert not client.connected
        assert server.ws_received[:1] == ["40{}"]
