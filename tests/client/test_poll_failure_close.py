"""aiosio's client on long-polling, like Node's socket.io-client: when a polling request fails,
it still sends the Engine.IO CLOSE (a POST of ``1``), so the server ends the session at once
(``transport close``) instead of waiting for its ping timeout.

The peer is the npm socket.io server (a small script here that prints each disconnect reason),
behind a relay that can drop the client's side of every connection while the server's side stays
open: the server's GET goes on waiting and only the CLOSE can tell it the client is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import aiosio
from peers import require_node

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
SERVER_JS = """
const { Server } = require("socket.io");
const io = new Server({ pingInterval: 20000, pingTimeout: 20000, transports: ["polling"] });
io.on("connection", (socket) => {
  socket.on("disconnect", (reason) => console.log(JSON.stringify({ disconnect: reason, at: Date.now() })));
});
io.listen(0);
console.log(JSON.stringify({ port: io.httpServer.address().port }));
"""


class OneSidedCutter:
    """Relays 127.0.0.1:<port> to ``upstream``; :meth:`cut` resets the client's side of every
    open connection and leaves the server's side open (the server sees nothing)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._uplinks: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._clients.add(writer)
        self._uplinks.add(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True)

    def cut(self) -> None:
        for writer in list(self._clients):
            writer.transport.abort()
        self._clients.clear()

    async def close(self) -> None:
        self.cut()
        for writer in list(self._uplinks):
            writer.transport.abort()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def node_server() -> AsyncIterator[tuple[int, asyncio.StreamReader]]:
    """The npm socket.io server (polling only, 20 s ping timeout): its port and its output."""
    require_node()
    proc = await asyncio.create_subprocess_exec(
        "node", "-e", SERVER_JS, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    try:
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        yield int(first["port"]), proc.stdout
    finally:
        proc.kill()
        await proc.wait()


async def test_a_failed_poll_sends_close(node_server: tuple[int, asyncio.StreamReader]) -> None:
    port, output = node_server
    relay = OneSidedCutter(port)
    await relay.start()
    client = aiosio.AsyncClient(reconnection=False)
    try:
        await client.connect(f"http://127.0.0.1:{relay.port}", transports=["polling"])
        await asyncio.sleep(0.3)  # a GET is waiting on the server
        cut_at = time.time()
        relay.cut()
        line = json.loads(await asyncio.wait_for(output.readline(), 10))
        # The CLOSE came through a new connection: the server ended the session at once, not at
        # its ping timeout (20 s + 20 s), and for the reason Node's own client causes.
        assert line["disconnect"] == "transport close", line
        assert line["at"] / 1000 - cut_at < 5
    finally:
        await client.disconnect()
        await relay.close()
