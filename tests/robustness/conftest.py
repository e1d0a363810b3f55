"""Fixtures for the robustness suite: an in-process server per test and raw Engine.IO clients.

``make_server(**kwargs)`` starts an :class:`aiosio.AsyncServer` on 127.0.0.1 and returns a
:class:`Harness`: it records every handler call (connect, disconnect, events), opens raw WebSocket,
long-polling and TCP clients, and checks afterwards that no traceback was logged. Nothing here uses a
Socket.IO client library: the point is to send what a well-behaved client never would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web

import aiosio
from server_errors import bad_log_records, unexpected

#: The longest any single wait in this suite may take, in seconds.
STEP = 5.0
PATH = "/socket.io/"


class WSClient:
    """A raw Engine.IO WebSocket client: text in, text out, no library in between."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, autopong: bool = True) -> None:
        self.ws = ws
        self.autopong = autopong
        self.eio_sid = ""
        self.sid = ""  # the Socket.IO sid of the "/" namespace, once connected
        self.open: dict[str, Any] = {}
        self._next_ack = 1000

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def recv(self, timeout: float = STEP) -> str | bytes:
        """The next Engine.IO message (PINGs are answered and skipped while ``autopong``)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type is WSMsgType.TEXT:
                    if msg.data == "2" and self.autopong:
                        await self.ws.send_str("3")
                        continue
                    return str(msg.data)
                if msg.type is WSMsgType.BINARY:
                    return bytes(msg.data)
                raise ConnectionError(f"websocket ended: {msg.type.name} {msg.data!r}")

    async def expect(self, prefix: str, timeout: float = STEP) -> str:
        """Receive until a text message starting with ``prefix`` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.recv()
                if isinstance(data, str) and data.startswith(prefix):
                    return data

    async def echo(self, value: Any = "ping") -> None:
        """Round-trip an acked ``echo`` event: proves the connection and its handlers still work."""
        self._next_ack += 1
        ack = self._next_ack
        await self.send(f"42{ack}" + orjson.dumps(["echo", value]).decode())
        reply = await self.expect(f"43{ack}[")
        assert orjson.loads(reply[len(f"43{ack}") :]) == [value]

    async def closed(self, timeout: float = STEP) -> tuple[list[str], int | None]:
        """Read until the WebSocket ends; return the text messages seen first and the close code."""
        seen: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type is WSMsgType.TEXT:
                    seen.append(str(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    seen.append(repr(msg.data))
                else:
                    return seen, self.ws.close_code

    @contextlib.asynccontextmanager
    async def answering_pings(self) -> AsyncIterator[None]:
        """Answer PINGs in the background (dropping other messages) while the block runs."""

        async def answer() -> None:
            while True:
                await self.recv(timeout=3600)

        task = asyncio.ensure_future(answer())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    async def close(self) -> None:
        await self.ws.close()


class PollClient:
    """A raw Engine.IO long-polling client."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.eio_sid = ""
        self.sid = ""
        self.open: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self.h.url(f"transport=polling&sid={self.eio_sid}")

    async def handshake(self, headers: dict[str, str] | None = None) -> None:
        status, body = await self.h.request("GET", self.h.url("transport=polling"), headers=headers)
        assert status == 200, body
        assert body.startswith("0{"), body
        self.open = orjson.loads(body[1:])
        self.eio_sid = self.open["sid"]

    async def post(self, data: str | bytes, **kwargs: Any) -> tuple[int, str]:
        return await self.h.request("POST", self.url, data=data, **kwargs)

    async def get(self, timeout: float = STEP) -> tuple[int, str]:
        return await self.h.request("GET", self.url, timeout=timeout)

    async def packets(self, timeout: float = STEP) -> list[str]:
        """One successful GET, split into its packets."""
        status, body = await self.get(timeout)
        assert status == 200, body
        return body.split("\x1e")

    async def connect(self) -> None:
        """Join the "/" namespace: POST ``40`` and read the CONNECT reply."""
        assert await self.post("40") == (200, "ok")
        async with asyncio.timeout(STEP):
            while True:
                for packet in await self.packets():
                    if packet.startswith("40{"):
                        self.sid = orjson.loads(packet[2:])["sid"]
                        return

    async def assert_dead(self) -> None:
        """The sid is gone: the server answers 400 ``{"code": 1}``."""
        status, body = await self.get()
        assert status == 400, body
        assert orjson.loads(body)["code"] == 1


class Harness:
    """One running server, what its handlers saw, and ways to talk to it."""

    def __init__(self, sio: aiosio.AsyncServer, caplog: pytest.LogCaptureFixture, node: pytest.Item) -> None:
        self.sio = sio
        self.caplog = caplog
        #: The running test: its ``allow_server_errors`` marker says which errors it provokes.
        self.node = node
        self.port = 0
        self.runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None
        self.connects: list[str] = []
        self.disconnects: list[tuple[str, str]] = []
        #: (sid, event, args) for every event any handler received, reserved names included.
        self.handled: list[tuple[str, str, tuple[Any, ...]]] = []
        self._closers: list[Callable[[], Awaitable[Any]]] = []
        self._install_handlers()

    def _install_handlers(self) -> None:
        sio = self.sio

        def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            self.connects.append(sid)

        def disconnect(sid: str, reason: str) -> None:
            self.disconnects.append((sid, reason))

        async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
            self.handled.append((sid, "echo", args))
            return args

        def catch_all(event: str, sid: str, *args: Any) -> None:
            self.handled.append((sid, event, args))

        def reserved(name: str) -> Callable[..., None]:
            def handler(sid: str, *args: Any) -> None:
                self.handled.append((sid, name, args))

            return handler

        sio.on("connect", connect)
        sio.on("disconnect", disconnect)
        sio.on("echo", echo)
        sio.on("*", catch_all)
        for name in ("connect_error", "disconnecting", "newListener"):
            sio.on(name, reserved(name))

    async def start(self) -> None:
        app = web.Application()
        self.sio.attach(app)
        self.runner = web.AppRunner(app, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.http = aiohttp.ClientSession(f"http://127.0.0.1:{self.port}")

    async def stop(self) -> None:
        for closer in reversed(self._closers):
            try:
                await closer()
            except (OSError, aiohttp.ClientError):
                pass
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()

    # -- addresses and plain requests --------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, query: str = "transport=polling") -> str:
        return f"{PATH}?EIO=4&{query}" if query else PATH

    async def request(self, method: str, url: str, timeout: float = STEP, **kwargs: Any) -> tuple[int, str]:
        assert self.http is not None
        async with asyncio.timeout(timeout), self.http.request(method, url, **kwargs) as resp:
            return resp.status, await resp.text()

    async def request_full(self, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body (for tests that look at headers)."""
        assert self.http is not None
        async with asyncio.timeout(STEP), self.http.request(method, url, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    # -- clients ------------------------------------------------------------------------------------

    async def ws(
        self,
        connect: bool = True,
        query: str = "transport=websocket",
        autopong: bool = True,
        **kwargs: Any,
    ) -> WSClient:
        """A WebSocket session: OPEN read, and (by default) joined to "/"."""
        assert self.http is not None
        async with asyncio.timeout(STEP):
            ws = await self.http.ws_connect(self.url(query), autoping=True, **kwargs)
        client = WSClient(ws, autopong)
        self._closers.append(client.close)
        opened = await client.recv()
        assert isinstance(opened, str) and opened.startswith("0{"), opened
        client.open = orjson.loads(opened[1:])
        client.eio_sid = client.open["sid"]
        if connect:
            await client.send("40")
            reply = await client.expect("40")
            client.sid = orjson.loads(reply[2:])["sid"]
        return client

    async def polling(self, connect: bool = True) -> PollClient:
        client = PollClient(self)
        await client.handshake()
        if connect:
            await client.connect()
        return client

    async def stalled_ws(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A WebSocket that joins "/" and then never reads again (tiny receive buffers)."""
        return await self.raw_ws(rcvbuf=4096)

    async def raw_ws(
        self, rcvbuf: int | None = None, join: bool = True
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A WebSocket over a bare TCP stream: the handshake done, frames are up to the caller."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf or 2**16)
        self._closers.append(lambda: _close_writer(writer))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {self.url('transport=websocket')} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        async with asyncio.timeout(STEP):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        if join:
            writer.write(client_frame(b"40"))
            await writer.drain()
        return reader, writer

    async def raw(self, data: bytes, timeout: float = STEP) -> tuple[int, bytes]:
        """Send raw bytes on a fresh TCP connection; return the response status and head."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            async with asyncio.timeout(timeout):
                head = await reader.readuntil(b"\r\n\r\n")
            return int(head.split(b" ", 2)[1]), head
        finally:
            await _close_writer(writer)

    # -- checks -------------------------------------------------------------------------------------

    async def until(self, predicate: Callable[[], bool], timeout: float = STEP) -> float:
        """Wait for ``predicate()`` to hold; return how long it took."""
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.01)
        return time.monotonic() - start

    def reasons(self, sid: str) -> list[str]:
        return [reason for s, reason in self.disconnects if s == sid]

    def events_of(self, sid: str) -> list[tuple[str, tuple[Any, ...]]]:
        return [(event, args) for s, event, args in self.handled if s == sid]

    def assert_no_tracebacks(self) -> None:
        """Nothing was logged at ERROR or with a traceback so far, except what the test's
        ``allow_server_errors`` marker allows (the same rule tests/server_errors.py applies at
        teardown, checked here mid-test)."""
        bad = unexpected(self.node, bad_log_records(self.caplog.records))
        assert not bad, bad

    async def assert_unharmed(self, *bystanders: WSClient) -> None:
        """Clients connected before still echo, a new client can connect, and nothing was logged."""
        for client in bystanders:
            await client.echo("still here")
        fresh = await self.ws()
        await fresh.echo("fresh")
        await fresh.close()
        self.assert_no_tracebacks()


def client_frame(payload: bytes, opcode: int = 0x1, fin: bool = True, masked: bool = True) -> bytes:
    """A client WebSocket frame (RFC 6455); ``fin=False`` or ``masked=False`` to break the rules."""
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes((bit | n,))
    elif n < 65536:
        head += struct.pack("!BH", bit | 126, n)
    else:
        head += struct.pack("!BQ", bit | 127, n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    body = int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + body.to_bytes(n, "big")


async def read_until_eof(reader: asyncio.StreamReader, timeout: float = STEP) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


MakeServer = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_server(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> AsyncIterator[MakeServer]:
    """Start servers with ``await make_server(**AsyncServer kwargs)``; all are stopped afterwards.

    Whatever they log at ERROR or with a traceback, up to and including their shutdown, fails the
    test (tests/server_errors.py, for every test).
    """
    caplog.set_level(logging.WARNING)
    started: list[Harness] = []

    async def factory(**kwargs: Any) -> Harness:
        harness = Harness(aiosio.AsyncServer(**kwargs), caplog, request.node)
        started.append(harness)
        await harness.start()
        return harness

    yield factory
    for harness in started:
        await harness.stop()


@pytest.fixture
async def server(make_server: MakeServer) -> Harness:
    """A server with default settings."""
    return await make_server()
