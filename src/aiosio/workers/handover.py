"""Moving a client's TCP connection to the worker that owns its session (file-descriptor passing).

When a request for another worker's session arrives, the worker that accepted the connection
sends the connection itself (``SCM_RIGHTS`` over the owner's ``w{id}.fd`` Unix socket) with the
bytes of the request it already read (request line, headers, the part of the body that arrived).
The owner feeds them to its own aiohttp server as if it had accepted the connection, answers, and
keeps the connection: the next requests on it go straight to the owner, WebSocket upgrades
included, and a worker dying takes down only the connections it serves. A retiring worker also
moves its idle keep-alive connections this way, with no bytes (:mod:`~aiosio.workers.drain`).

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

__all__ = ["HandOverLinks", "HandOverServer", "Outcome", "replay_bytes"]

logger = logging.getLogger("aiosio.workers")

#: The most bytes of a request sent along with its connection (request line, headers, a buffered
#: body): one message on the hand-over link. A larger request is relayed instead.
MAX_REPLAY = 64 * 1024
#: The most seconds a hand-over waits while the receiver's queue is full.
SEND_TIMEOUT = 5.0


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
    if len(head) > MAX_REPLAY:
        return None  # more than one hand-over message holds: the receiver would drop it
    body = b""
    if request.body_exists:
        length = request.content_length
        content = request.content
        if length is None or len(head) + length > MAX_REPLAY or content.exception() is not None:
            return None
        body = content.read_nowait(-1)
    return head + body


#: What :meth:`HandOverLinks.send` did: the connection moved; the owner could not be reached
#: (the request untouched); the owner could not be reached after the request's buffered body was
#: taken out of aiohttp (the request is spoilt: it can only be refused); or it cannot move
#: (nothing was touched).
Outcome = Literal["moved", "unreachable", "spoilt", "cannot"]


class HandOverLinks:
    """This worker's links to the other workers' hand-over sockets (``SOCK_SEQPACKET``: one
    message per hand-over, the connection's descriptor attached, no round trip)."""

    def __init__(self) -> None:
        self._links: dict[str, socket.socket] = {}
        #: False where Unix SOCK_SEQPACKET sockets do not exist (then every request is relayed).
        self.supported = True

    def _link(self, path: str) -> socket.socket | None:
        link = self._links.get(path)
        if link is None:
            try:
                link = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            except (OSError, AttributeError) as exc:
                logger.info("connections cannot move between workers here (%s): requests are relayed", exc)
                self.supported = False
                return None
            link.setblocking(False)
            try:
                link.connect(path)
            except OSError as exc:  # nobody listens (gone), or its backlog is full (going)
                link.close()
                logger.debug("no hand-over socket at %s: %s", path, exc)
                return None
            self._links[path] = link
        return link

    def forget(self, path: str) -> None:
        """Drop the link to ``path`` (its worker is gone)."""
        link = self._links.pop(path, None)
        if link is not None:
            link.close()

    def close(self) -> None:
        """Drop every link."""
        for path in list(self._links):
            self.forget(path)

    async def send(self, request: web.Request, path: str | Path) -> Outcome:
        """Hand the connection of ``request`` to the worker listening on ``path``.

        ``"moved"`` once the message with the descriptor is queued there: the connection is dropped
        here without a word (the owner holds it; if the owner dies before taking it, the connection
        closes with it, as its sessions end). ``"unreachable"``: nobody takes hand-overs at ``path``
        (the owner is gone or going). ``"cannot"``: the request cannot be replayed exactly (see
        :func:`replay_bytes`). In both cases the request is untouched. ``"spoilt"``: the owner
        could not be reached after the request's buffered body was taken: it cannot be served.
        """
        transport = request.transport
        if transport is None or transport.is_closing() or transport.get_extra_info("sslcontext") is not None:
            return "cannot"
        raw = transport.get_extra_info("socket")
        if raw is None or not self.supported:
            return "cannot"
        where = str(path)
        link = self._link(where)
        if link is None:
            return "unreachable" if self.supported else "cannot"
        transport.pause_reading()
        payload = replay_bytes(request)
        transport.pause_reading()  # again: draining aiohttp's buffer may have resumed it
        if payload is None:
            transport.resume_reading()
            return "cannot"
        if not await self._send(link, where, payload, raw.fileno()):
            # Nothing was queued: the owner is gone or stuck. The request's buffered body (if any)
            # was taken out of aiohttp, so it cannot be served here either.
            transport.resume_reading()
            return "spoilt" if request.body_exists and request.content_length else "unreachable"
        # Our copy only (the owner keeps the connection open); close, not abort: uvloop does not
        # count an aborted transport as closing, and aiohttp would then write its placeholder.
        transport.close()
        return "moved"

    async def _send(
        self, link: socket.socket, where: str, payload: bytes, fd: int, timeout: float | None = None
    ) -> bool:
        """Queue one hand-over message on ``link`` (waiting up to ``timeout`` seconds, 5 by
        default, while the receiver's queue is full); False (and the link dropped) if it cannot be."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT if timeout is None else min(timeout, SEND_TIMEOUT)):
                while True:
                    try:
                        socket.send_fds(link, [payload], [fd])
                        return True
                    except BlockingIOError:  # the owner's queue is full: it is busy
                        await _ready(link, writable=True)
        except (OSError, TimeoutError) as exc:
            logger.debug("could not hand a connection to %s: %s", where, exc)
            self.forget(where)
            return False

    async def send_idle(
        self, transport: asyncio.BaseTransport, path: str | Path, timeout: float | None = None
    ) -> bool | None:
        """Hand a keep-alive connection that waits for its next request (nothing of it read) to
        the worker listening on ``path`` (waiting at most ``timeout`` seconds); True once it is
        queued there (then the caller drops its own copy, without a word), False if the worker
        there did not take it, None if this connection cannot move (a TLS one, say). The
        connection stops being read here first."""
        raw = transport.get_extra_info("socket")
        if (
            raw is None
            or not self.supported
            or transport.is_closing()
            or transport.get_extra_info("sslcontext") is not None
            or not isinstance(transport, asyncio.ReadTransport)
        ):
            return None
        where = str(path)
        link = self._link(where)
        if link is None:
            return False
        transport.pause_reading()
        if await self._send(link, where, b"", raw.fileno(), timeout):
            return True
        transport.resume_reading()
        return False


async def _ready(sock: socket.socket, *, writable: bool) -> None:
    """Wait until ``sock`` can be written (or read), without a thread."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    fd = sock.fileno()
    if writable:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await done
    finally:
        if writable:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


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
    """Takes connections other workers hand over, on the Unix socket ``path`` (``SOCK_SEQPACKET``),
    and serves them with ``factory`` (the aiohttp runner's ``server``: a protocol factory)."""

    def __init__(self, path: str | Path, factory: Callable[[], Any]) -> None:
        self.path = str(path)
        self.factory = factory
        self._sock: socket.socket | None = None
        self._links: set[socket.socket] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections taken over so far.
        self.taken = 0

    async def start(self) -> None:
        """Listen (where Unix SOCK_SEQPACKET sockets exist: elsewhere requests are relayed)."""
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except (OSError, AttributeError):
            return
        sock.bind(self.path)
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
        self._sock = sock
        self._spawn(self._accept(sock))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop taking connections; those already sent here are taken first (none is dropped).

        The socket's name goes first (nobody new can connect); then every link still queued is
        accepted, and shut for reading (a peer sending on it from now on gets an error and serves
        its request itself, instead of a message lost with the link), and every message already
        queued on a link is served. Connections taken stay with the aiohttp server.
        """
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            while True:
                try:
                    link, _ = sock.accept()
                except OSError:  # BlockingIOError: none left
                    break
                link.setblocking(False)
                self._links.add(link)
            sock.close()
        for link in list(self._links):
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RD)
        for link in list(self._links):
            with contextlib.suppress(OSError):
                while await self._take_one(link):
                    pass
            link.close()
        self._links.clear()

    async def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                link, _ = sock.accept()
            except BlockingIOError:
                await _ready(sock, writable=False)
                continue
            link.setblocking(False)
            self._links.add(link)
            self._spawn(self._serve_link(link))

    def _protocol(self, first: bytes) -> Callable[[], asyncio.Protocol]:
        def make() -> asyncio.Protocol:
            return _Primed(self.factory(), first)

        return make

    async def _take_one(self, link: socket.socket) -> bool:
        """Take the next connection queued on ``link``; False if none is queued. Raises
        ConnectionAbortedError once the peer closed the link, OSError if the link failed."""
        try:
            data, fds, flags, _addr = socket.recv_fds(link, MAX_REPLAY + 1, 4)
        except BlockingIOError:
            return False
        if not data and not fds:
            raise ConnectionAbortedError("the peer closed the link")
        # (An empty message with a descriptor is an idle keep-alive connection.)
        if len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            for fd in fds:
                os.close(fd)
            logger.warning("dropped a malformed hand-over (%d bytes, %d descriptors)", len(data), len(fds))
            return True
        client = socket.socket(fileno=fds[0])
        client.setblocking(False)
        try:
            # Shielded: :meth:`close` cancelling this task must not drop a connection half taken.
            loop = asyncio.get_running_loop()
            await asyncio.shield(loop.connect_accepted_socket(self._protocol(data), client))
            self.taken += 1
        except OSError as exc:
            client.close()
            logger.debug("a handed-over connection could not be served: %s", exc)
        return True

    async def _serve_link(self, link: socket.socket) -> None:
        """Take every connection a peer worker sends on ``link`` until it goes (or until
        :meth:`close`, which takes what is left)."""
        try:
            while True:
                if not await self._take_one(link):
                    await _ready(link, writable=False)
        except ConnectionAbortedError:
            self._links.discard(link)
            link.close()
        except OSError as exc:
            logger.debug("a hand-over link failed: %s", exc)
            self._links.discard(link)
            link.close()
