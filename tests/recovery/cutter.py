"""A TCP relay whose connections a test can cut: every connection open now is aborted (a reset,
no close handshake at either layer), as when a phone loses its network; new ones go through."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar


class Cutter:
    """Relays 127.0.0.1:<port> to ``upstream_port``; :meth:`cut` aborts every open connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The relay's base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on a random port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._opened(writer, up_writer)
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        for task in pumps:
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        self._ended(writer, up_writer)

    def _opened(self, writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter) -> None:
        """A relayed connection starts: ``writer`` to the client, ``up_writer`` to the server."""
        self._open.update((writer, up_writer))

    def _ended(self, writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter) -> None:
        """One side of a relayed connection ended: abort both."""
        for w in (writer, up_writer):
            self._open.discard(w)
            w.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    def cut(self) -> None:
        """Abort every connection open now (both sides see a reset)."""
        self.cuts += 1
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def close(self) -> None:
        """Stop listening and abort everything."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


C = TypeVar("C", bound=Cutter)


@contextlib.asynccontextmanager
async def cutters(kind: type[C] = Cutter) -> AsyncIterator[Callable[[int], Awaitable[C]]]:  # type: ignore[assignment]
    """``async with cutters() as make:`` ``relay = await make(port)`` starts a :class:`Cutter` (or a
    ``kind`` of one) in front of ``port``; every one made is closed on exit."""
    made: list[C] = []

    async def make(port: int) -> C:
        relay = kind(port)
        await relay.start()
        made.append(relay)
        return relay

    try:
        yield make
    finally:
        for relay in made:
            await relay.close()
