"""Helpers of the ``--workers`` recovery tests: a relay that can also keep a client away, and the
clients under test (aiosio's, or npm socket.io-client run by Node) behind one small interface."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from recovery.cutter import Cutter
from recovery.node_csr import NodeCsr
from recovery.support import fast_client


async def until(check: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> None:
    """Wait until ``await``-free ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class HoldingCutter(Cutter):
    """A :class:`Cutter` that can also :meth:`hold` a client away: while held, every new
    connection is reset at once (the client keeps trying), until :meth:`release`."""

    held = False

    def hold(self) -> None:
        """Reset every connection from now on (and cut the open ones)."""
        self.held = True
        self.cut()

    def release(self) -> None:
        """Let connections through again."""
        self.held = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.held:
            writer.transport.abort()
            return
        await super()._accept(reader, writer)


class Subject(Protocol):
    """A client under test: connected through the relay, counting the numbered ``n`` events."""

    async def connect(self, url: str) -> str: ...

    async def snapshot(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class AiosioSubject:
    """aiosio's client (reconnects at once)."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.client = fast_client()
        self.got: list[Any] = []
        self.connects: list[tuple[str | None, bool]] = []
        self.client.on("n", self.got.append)

        @self.client.event
        async def connect() -> None:
            self.connects.append((self.client.get_sid(), self.client.recovered))

    async def connect(self, url: str) -> str:
        await self.client.connect(url, transports=[self.transport])
        sid = self.client.get_sid()
        assert sid is not None
        return sid

    async def snapshot(self) -> dict[str, Any]:
        """``{sid, connected, recovered, got, connects}`` now."""
        client = self.client
        return {
            "sid": client.get_sid(),
            "connected": client.connected,
            "recovered": client.recovered,
            "got": list(self.got),
            "connects": [{"sid": s, "recovered": r} for s, r in self.connects],
        }

    async def close(self) -> None:
        await self.client.disconnect()


class NodeSubject:
    """npm socket.io-client 4.8 in a Node process (tests/recovery/node_csr.js), stopped by pid."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.node: NodeCsr | None = None
        self.cid = ""

    async def connect(self, url: str) -> str:
        self.node = await NodeCsr.start()
        made = await self.node.command("client", url=url, transports=[self.transport])
        self.cid = made["cid"]
        return str(made["sid"])

    async def snapshot(self) -> dict[str, Any]:
        assert self.node is not None
        state = await self.node.command("state", cid=self.cid)
        received = await self.node.command("received", cid=self.cid)
        # Node's client hands the offset to the handler as the last argument: the number is first.
        state["got"] = [args[0] for args in received]
        return dict(state)

    async def close(self) -> None:
        if self.node is not None:
            await self.node.stop()


def subject(kind: str) -> AiosioSubject | NodeSubject:
    """``aiosio-websocket``, ``aiosio-polling``, ``node-websocket`` or ``node-polling``."""
    peer, transport = kind.split("-")
    return AiosioSubject(transport) if peer == "aiosio" else NodeSubject(transport)
