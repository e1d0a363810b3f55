"""Moving a client's TCP connection to the worker that owns its session (file-descriptor passing).

When a request for another worker's session arrives, the worker that accepted the connection
sends the connection itself (``SCM_RIGHTS`` over the owner's ``w{id}.fd`` Unix socket) with the
bytes of the request it already read (request line, headers, the part of the body that arrived).
The owner feeds them to its own aiohttp server as if it had accepted the connection, answers, and
keeps the connection: the next requests on it go straight to the owner, WebSocket upgrades
included, and a worker dying takes down only the connections it serves.

A connection whose request cannot be replayed byte for byte (a chunked body aiohttp already
decoded, a TLS socket, no socket) is not moved: :mod:`~aiosio.workers.routing` relays that request
instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

__all__ = ["HandOverServer", "Outcome", "replay_bytes", "send_connection"]

logger = logging.getLogger("aiosio.workers")

_LENGTH = struct.Struct(">I")
#: The most bytes of a request sent along with its connection (headers plus a buffered body).
MAX_REPLAY = 16 * 1024 * 1024
_ACCEPTED = b"\x01"


def replay_bytes(request: web.Request) -> bytes | None:
    """What the owner must read first to see ``request`` as sent: request line, raw headers and the
    body bytes aiohttp already buffered (taken out of the request). None if that cannot be exact."""
    headers = request.headers
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None  # aiohttp holds the decoded body, not the bytes as sent
    version = request.version
    lines = [f"{request.method} {request.raw_path} HTTP/{version.major}.{version.minor}".encode("latin-1")]
    lines.extend(name + b": " + value for name, value in request.raw_headers)
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    body = b""
    if request.body_exists:
        content = request.content
        if content.exception() is not None:
            return None
        body = content.read_nowait(-1)
    if len(head) + len(body) > MAX_REPLAY:
        return None
    return head + body


#: What :func:`send_connection` did: the connection moved; the owner could not be reached (the
#: request is spoilt: its buffered body was taken); or it cannot move (nothing was touched).
Outcome = Literal["moved", "unreachable", "cannot"]


async def send_connection(request: web.Request, path: str | Path) -> Outcome:
    """Hand the connection of ``request`` to the worker listening on ``path``.

    ``"moved"`` once the descriptor went: the connection is then dropped here without a word (the
    owner holds it). ``"unreachable"``: the owner's socket did not take it (the owner is gone or
    going). ``"cannot"``: this request cannot be replayed exactly (see :func:`replay_bytes`).
    """
    transport = request.transport
    if transport is None or transport.is_closing() or transport.get_extra_info("sslcontext") is not None:
        return "cannot"
    raw = transport.get_extra_info("socket")
    if raw is None:
        return "cannot"
    transport.pause_reading()
    payload = replay_bytes(request)
    transport.pause_reading()  # again: draining aiohttp's buffer may have resumed it
    if payload is None:
        transport.resume_reading()
        return "cannot"
    loop = asyncio.get_running_loop()
    fd = os.dup(raw.fileno())
    link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sent = False
    try:
        link.setblocking(False)
        await loop.sock_connect(link, str(path))
        await loop.run_in_executor(None, _send_fd, link, _LENGTH.pack(len(payload)), fd)
        sent = True
        await loop.sock_sendall(link, payload)
        async with asyncio.timeout(5):
            answer = await loop.sock_recv(link, 1)
        if answer != _ACCEPTED:
            logger.debug("the worker on %s did not take the connection", path)
    except (OSError, TimeoutError) as exc:
        logger.debug("could not hand a connection to %s: %s", path, exc)
    finally:
        os.close(fd)
        link.close()
    if not sent:
        transport.resume_reading()
        return "unreachable"
    # Once the descriptor went, the connection is the owner's (or, if it failed to take it, lost:
    # reading it here too could split the client's bytes between two processes).
    transport.abort()  # our copy only: the owner's keeps the connection open
    return "moved"


def _send_fd(link: socket.socket, data: bytes, fd: int) -> None:
    link.setblocking(True)
    try:
        socket.send_fds(link, [data], [fd])
    finally:
        link.setblocking(False)


def _receive(conn: socket.socket) -> tuple[bytes, int]:
    """The replay bytes and the connection's fd (blocking; run in a thread)."""
    conn.setblocking(True)
    conn.settimeout(5)
    data, fds, _flags, _addr = socket.recv_fds(conn, _LENGTH.size, 1)
    try:
        if len(data) < _LENGTH.size or len(fds) != 1:
            raise OSError("a hand-over starts with a length and one descriptor")
        (length,) = _LENGTH.unpack(data[: _LENGTH.size])
        if length > MAX_REPLAY:
            raise OSError(f"a hand-over of {length} bytes is too large")
        chunks = [data[_LENGTH.size :]]
        have = len(chunks[0])
        while have < length:
            chunk = conn.recv(min(65536, length - have))
            if not chunk:
                raise OSError("the hand-over ended early")
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks), fds[0]
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


class _Primed(asyncio.Protocol):
    """aiohttp's protocol for a connection another worker read the start of: that start first."""

    def __init__(self, inner: Any, first: bytes) -> None:
        self.inner = inner
        self.first = first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)
        first, self.first = self.first, b""
        if first:
            self.inner.data_received(first)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class HandOverServer:
    """Takes connections other workers hand over, on the Unix socket ``path``, and serves them with
    ``factory`` (the aiohttp runner's ``server``: a protocol factory)."""

    def __init__(self, path: str | Path, factory: Callable[[], Any]) -> None:
        self.path = str(path)
        self.factory = factory
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.path)
        sock.listen(128)
        sock.setblocking(False)
        self._sock = sock
        self._task = asyncio.ensure_future(self._accept(sock))

    async def close(self) -> None:
        """Stop taking connections (those taken stay with the aiohttp server)."""
        for task in [self._task, *self._pending]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(sock)
            task = asyncio.ensure_future(self._take(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _take(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            first, fd = await loop.run_in_executor(None, _receive, conn)
            client = socket.socket(fileno=fd)
            client.setblocking(False)
            try:
                await loop.connect_accepted_socket(lambda: _Primed(self.factory(), first), client)
            except BaseException:
                client.close()
                raise
            conn.setblocking(False)
            await loop.sock_sendall(conn, _ACCEPTED)
        except OSError as exc:
            logger.debug("a hand-over failed: %s", exc)
        finally:
            conn.close()
