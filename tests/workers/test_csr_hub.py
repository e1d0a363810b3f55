"""Connection-state recovery through the workers' hub, in one process: a real :class:`Hub` on a
Unix socket, two real aiosio servers on the hub (each with the LocalDriver ``--workers`` installs),
aiosio's client through a TCP relay the test cuts and points at the other server for the
reconnection. The multi-process runs (``aiosio run --workers 2``) are in test_csr_workers.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from recovery.cutter import Cutter

import aiosio
from aiosio.workers.hub import Hub
from aiosio.workers.hub_store import HubStore
from aiosio.workers.install import install_cluster

pytestmark = pytest.mark.timeout(60)


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def fast_client() -> aiosio.AsyncClient:
    return aiosio.AsyncClient(reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = Hub(str(tmp_path / "hub.sock"))
    await hub.start()
    yield hub
    await hub.close()


@pytest.fixture
async def relay() -> AsyncIterator[Cutter]:
    cutter = Cutter(0)
    await cutter.start()
    yield cutter
    await cutter.close()


def worker(hub: Hub, **recovery: Any) -> tuple[aiosio.AsyncServer, list[tuple[str, bool]]]:
    """A server as a worker of ``hub``: new sockets join r1 and get a session."""
    sio = aiosio.AsyncServer(connection_state_recovery=recovery or True, ping_interval=1, ping_timeout=1)
    assert install_cluster([sio], hub_path=hub.path) == 1
    connects: list[tuple[str, bool]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        connects.append((sid, sio.recovered(sid)))
        if not sio.recovered(sid):
            await sio.enter_room(sid, "r1")
            async with sio.session(sid) as session:
                session["user"] = "ann"

    return sio, connects


def store_of(sio: aiosio.AsyncServer) -> HubStore:
    store = sio._recovery
    assert isinstance(store, HubStore)
    return store


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_cut_during_1000_broadcasts_from_both_workers_recovers_on_the_other(
    hub: Hub, serve: Any, relay: Cutter, transport: str
) -> None:
    a, connects_a = worker(hub)
    b, connects_b = worker(hub)
    handle_a, handle_b = await serve(a), await serve(b)
    relay.upstream_port = handle_a.port
    client = fast_client()
    got: list[int] = []
    client.on("n", got.append)
    await client.connect(relay.url, transports=[transport])
    sid = client.get_sid()
    assert sid is not None and not client.recovered
    await until(lambda: a.rooms(sid) == [sid, "r1"])

    async def broadcast() -> None:
        for i in range(1000):
            await (a if i % 2 else b).emit("n", i, to="r1")
            if i % 20 == 0:
                await asyncio.sleep(0.002)

    task = asyncio.ensure_future(broadcast())
    await until(lambda: len(got) >= 100)
    relay.upstream_port = handle_b.port  # the reconnection lands on the other worker
    relay.cut()
    await task
    await until(lambda: len(got) >= 1000 and client.connected and len(connects_b) == 1)
    await asyncio.sleep(0.2)  # nothing more may come
    assert got == list(range(1000))
    assert connects_a == [(sid, False)] and connects_b == [(sid, True)]
    assert client.get_sid() == sid and client.recovered
    assert b.rooms(sid) == [sid, "r1"]
    assert (await b.get_session(sid)) == {"user": "ann"}
    stats = await store_of(b).fetch_stats()
    assert stats.recovered == 1 and stats.refused == 0 and stats.packets == 1000
    await client.disconnect()
