"""Fixtures of the Redis Streams tests: aiosio nodes on ``AsyncRedisManager(mode='streams')`` (each
test on streams, channels and session keys of its own), a TCP relay the tests cut (and point at
another node), npm socket.io-client clients (tests/recovery/node_csr.js), and Node socket.io nodes
on @socket.io/redis-streams-adapter 0.3.1 (``node_cluster_node("streams", ...)``, tests/cluster)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

import aiosio
from recovery.cutter import Cutter, cutters
from recovery.node_csr import NodeCsr


@dataclass(frozen=True)
class Names:
    """The Redis names of one test: stream, channel prefix and session key prefix (Node's option
    names), so tests sharing one redis-server never see each other."""

    stream: str
    prefix: str
    sessions: str

    def node_options(self) -> dict[str, Any]:
        """The same names as options of node_node.js's ``streams`` profile."""
        return {"streamName": self.stream, "channelPrefix": self.prefix, "sessionKeyPrefix": self.sessions}

    def manager(self, url: str, **options: Any) -> aiosio.AsyncRedisManager:
        """An aiosio manager on these names."""
        return aiosio.AsyncRedisManager(
            url,
            channel=self.prefix,
            mode="streams",
            stream_name=self.stream,
            session_key_prefix=self.sessions,
            **options,
        )


@pytest.fixture
def names() -> Names:
    """Fresh Redis names for this test."""
    tag = uuid.uuid4().hex[:10]
    return Names(f"st-{tag}", f"sp-{tag}", f"ss-{tag}:")


@pytest.fixture
async def cutter() -> AsyncIterator[Callable[[int], Awaitable[Cutter]]]:
    """``relay = await cutter(port)``: a :class:`Cutter` in front of ``port`` (set
    ``relay.upstream_port`` to send the next connections elsewhere), closed at the end."""
    async with cutters() as make:
        yield make


@pytest.fixture
async def npm_clients() -> AsyncIterator[Callable[[], Awaitable[NodeCsr]]]:
    """``peer = await npm_clients()``: a Node process holding npm socket.io-client clients
    (tests/recovery/node_csr.js), stopped by its pid at the end."""
    started: list[NodeCsr] = []

    async def start() -> NodeCsr:
        peer = await NodeCsr.start()
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.stop()


class HalfCutter(Cutter):
    """A :class:`Cutter` whose :meth:`cut_client_side` resets only the client's side: the server's
    connection stays open and silent, so the server notices the loss only at its ping timeout."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self._pairs: list[tuple[Any, Any]] = []
        self._silent: list[Any] = []
        self._frozen = False

    def _opened(self, writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter) -> None:
        self._pairs.append((writer, up_writer))

    def _ended(self, writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()
        if up_writer not in self._silent:
            up_writer.transport.abort()

    def cut_client_side(self) -> None:
        """Reset the clients' connections; the server's stay open, and nothing reaches them."""
        pairs, self._pairs = self._pairs, []
        for writer, up_writer in pairs:
            self._silent.append(up_writer)  # kept open, never written to again
            writer.transport.abort()

    async def close(self) -> None:
        """Stop listening, abort everything (the silent server sides too)."""
        for up_writer in self._silent:
            up_writer.transport.abort()
        for writer, up_writer in self._pairs:
            writer.transport.abort()
            up_writer.transport.abort()
        await super().close()
