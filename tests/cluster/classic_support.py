"""Shared pieces of the classic interop suite (test_classic_*.py, test_emitter.py): fixtures that
start aiosio nodes (in this process, or as py_node.py processes), the delivery bookkeeping of
clients held by a Node node, and the ``settle`` marker that proves nothing else arrived.

Import the fixtures into a test module (``from .classic_support import aiosio_node, py_process``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import pytest

from server_errors import process_problems

from .node_peer import NodePeer
from .py_node import LocalPeer, PyPeer

#: What the handshake of a fetched socket holds (Node's ``buildHandshake()`` minus sessionStore).
HANDSHAKE_KEYS = ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"]
#: ``String(new Date())`` in Node: ``Tue Dec 01 2026 08:34:31 GMT+0000 (Coordinated Universal Time)``.
JS_DATE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4} \(.+\)$")

Peer = NodePeer | LocalPeer
LocalFactory = Callable[..., Awaitable[LocalPeer]]
ProcessFactory = Callable[..., Awaitable[PyPeer]]


@pytest.fixture
async def aiosio_node(serve: Any) -> LocalFactory:
    """``await aiosio_node(redis_url, name="P", requestsTimeout=ms, nsps=[...])``: an aiosio node
    with ``AsyncRedisManager`` served in this process (shut down by the ``serve`` fixture)."""

    async def make(redis_url: str, **config: Any) -> LocalPeer:
        config.setdefault("name", "P")
        peer = LocalPeer({"redis": redis_url, **config})
        handle = await serve(peer.sio)
        peer.port = handle.port
        return peer

    return make


@pytest.fixture
async def py_process() -> AsyncIterator[ProcessFactory]:
    """``await py_process(redis_url, name="Q", ...)``: an aiosio node as a py_node.py process
    (``exit``, then SIGKILL by pid, at teardown; a frozen one is thawed first). An error or a
    traceback it logged fails the test, as for the ``start`` fixture's processes."""
    started: list[PyPeer] = []

    async def make(redis_url: str, **config: Any) -> PyPeer:
        peer = await PyPeer.start(redis_url, **config)
        started.append(peer)
        return peer

    try:
        yield make
    finally:
        for peer in reversed(started):
            await peer.stop()
    problems = [p for peer in started for p in process_problems(peer.stderr, f"py_node {peer.name}")]
    assert not problems, problems  # an aiosio node process logged an error or a traceback


async def connect(holder: NodePeer, server: Peer, *rooms: str, nsp: str = "/", **opts: Any) -> dict[str, Any]:
    """A socket.io-client in *holder* connected to *server* (websocket), joined to *rooms* there."""
    info = await holder.client(server.url, nsp=nsp, transports=["websocket"], **opts)
    if rooms:
        await server.command("join", sid=info["sid"], rooms=list(rooms), nsp=nsp)
    return info


def received(holder: NodePeer, cid: str, name: str) -> list[dict[str, Any]]:
    """Every ``client-event`` *name* that client *cid* of *holder* received so far."""
    return [
        e for e in holder.events if e["event"] == "client-event" and e["cid"] == cid and e["name"] == name
    ]


def who_got(holder: NodePeer, name: str, cids: Iterable[str]) -> dict[str, int]:
    """cid -> how many times it received *name* (clients that got nothing left out)."""
    counts = {cid: len(received(holder, cid, name)) for cid in cids}
    return {cid: n for cid, n in counts.items() if n}


async def settle(
    sender: Peer, holder: NodePeer, cids: Iterable[str], nsp: str = "/", mark: str = "mark"
) -> None:
    """*sender* broadcasts *mark* to everyone of *nsp*; wait until each client got it.

    A node's PUBLISHes leave in order on one connection and each client's events arrive in order on
    one socket: once the mark arrived, whatever *sender* broadcast before it has arrived too.
    """
    await sender.command("emit", event=mark, nsp=nsp)
    for cid in cids:
        await holder.next_event({"event": "client-event", "cid": cid, "name": mark})


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0, step: float = 0.02) -> None:
    """Poll *check* until it is true (AssertionError after *timeout* seconds)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(step)


async def counts(peers: Iterable[Peer], nsp: str = "/") -> list[int]:
    """Every peer's ``serverCount``."""
    return [await p.command("serverCount", nsp=nsp) for p in peers]
