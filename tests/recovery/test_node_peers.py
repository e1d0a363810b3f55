"""Connection-state recovery with Node peers: the npm socket.io-client against an aiosio server,
and aiosio's client against a Node socket.io 4.8 server with ``connectionStateRecovery``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .cutter import Cutter
from .node_csr import NodeCsr
from .support import fast_client, until
from .test_aiosio_pair import recovering_server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(40)]

CutterFactory = Callable[[int], Awaitable[Cutter]]


@pytest.fixture
async def node() -> AsyncIterator[Callable[..., Awaitable[NodeCsr]]]:
    """``peer = await node(server=True)``: a node_csr.js process, stopped at the end."""
    started: list[NodeCsr] = []

    async def start(**config: Any) -> NodeCsr:
        peer = await NodeCsr.start(**config)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.stop()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_the_npm_client_loses_nothing_of_1000_broadcasts(
    serve: Any, cutter: CutterFactory, node: Callable[..., Awaitable[NodeCsr]], transport: str
) -> None:
    sio, connects = recovering_server()
    handle = await serve(sio)
    relay = await cutter(handle.port)
    peer = await node()
    client = await peer.command("client", url=relay.url, transports=[transport])
    sid = client["sid"]
    await until(lambda: connects == [(sid, False)] and sio.rooms(sid) == [sid, "r1"])

    async def broadcast() -> None:
        for i in range(1000):
            await sio.emit("n", i, to="r1")
            if i % 20 == 0:
                await asyncio.sleep(0.002)

    task = asyncio.ensure_future(broadcast())
    await peer.wait_got(client["cid"], 100)
    # A cut between two polling requests breaks nothing: cut until the client had to reconnect.
    for _ in range(40):
        relay.cut()
        await asyncio.sleep(0.05)
        if len(connects) > 1:
            break
    await task
    got = await peer.all_received(client["cid"], 1000, timeout=15, settle=0.1)
    assert [args[0] for args in got] == list(range(1000))
    # The npm client sees the offset as a last argument (Node's behaviour), each a distinct one.
    assert all(len(args) == 2 and isinstance(args[1], str) for args in got)
    assert len({args[1] for args in got}) == 1000
    state = await peer.command("state", cid=client["cid"])
    assert state["sid"] == sid and state["recovered"] is True
    reconnects = len(connects) - 1
    assert reconnects >= 1
    assert (
        state["connects"]
        == [{"sid": sid, "recovered": False}] + [{"sid": sid, "recovered": True}] * reconnects
    )
    assert connects == [(sid, False)] + [(sid, True)] * reconnects and sio.rooms(sid) == [sid, "r1"]


async def test_the_aiosio_client_recovers_on_a_node_server(
    cutter: CutterFactory, node: Callable[..., Awaitable[NodeCsr]]
) -> None:
    peer = await node(server=True, pingInterval=1000, pingTimeout=1000)
    relay = await cutter(peer.port or 0)
    client = fast_client()
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    assert not client.recovered
    await peer.command("emit", ev="n", args=[1], to="r1")
    # A volatile event ending in a string: Node's client would take it for its offset and fail
    # the next recovery (CLUSTER-WIRE.md §4, defect 3); aiosio's does not.
    await peer.command("emit", ev="n", args=["plainstring"], volatile=True)
    await until(lambda: len(got) == 2)
    relay.cut()
    async with asyncio.timeout(10):
        while not any(e.get("event") == "connection" and e["recovered"] for e in peer.events):
            if len(peer.events) == 1:
                await peer.command("emit", ev="n", args=[2], to="r1")  # missed, queued once
                peer.events.append({"event": "sent"})
            await asyncio.sleep(0.01)
    await until(lambda: client.connected and len(got) >= 3)
    assert got == [(1,), ("plainstring",), (2,)]
    assert client.get_sid() == sid and client.recovered
    await client.disconnect()
