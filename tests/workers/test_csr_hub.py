"""Connection-state recovery through the workers' hub, in one process: a real :class:`Hub` on a
Unix socket, two real aiosio servers on the hub (each with the LocalDriver ``--workers`` installs),
aiosio's client through a TCP relay the test cuts and points at the other server for the
reconnection. The multi-process runs (``aiosio run --workers 2``) are in test_csr_workers.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from csr_support import until

import aiosio
from aiosio.workers.hub import Hub
from aiosio.workers.hub_store import HubStore
from aiosio.workers.install import install_cluster
from recovery.cutter import Cutter
from recovery.support import counting_client, fast_client

pytestmark = pytest.mark.timeout(60)


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
    client, got, sid = await counting_client(relay.url, transport)
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


async def test_acked_and_volatile_broadcasts_are_not_replayed(hub: Hub, serve: Any, relay: Cutter) -> None:
    a, _ = worker(hub)
    b, connects_b = worker(hub)
    handle_a, handle_b = await serve(a), await serve(b)
    relay.upstream_port = handle_a.port
    client = fast_client()
    got: list[Any] = []
    client.on("n", got.append)
    client.on("acked", lambda value: got.append(("acked", value)) or True)
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    assert sid is not None
    relay.upstream_port = handle_b.port
    relay.cut()
    await until(lambda: not a.manager.is_connected(sid, "/"))
    await a.emit("n", 1, to="r1")
    await a.emit("n", "volatile", to="r1", volatile=True)
    await b.emit("acked", 2, to="r1", callback=lambda *args: None)
    await a.emit("n", 3, to="r1")
    await until(lambda: client.connected and len(connects_b) == 1 and len(got) >= 2)
    await asyncio.sleep(0.2)
    assert got == [1, 3] and client.recovered
    stats = await store_of(b).fetch_stats()
    assert stats.packets == 2  # the volatile and the acked one were never kept
    await client.disconnect()


async def test_back_before_the_old_worker_noticed_the_old_socket_is_dropped_there(
    hub: Hub, serve: Any, relay: Cutter
) -> None:
    """A polling client cut on worker A is seen dead only at its ping timeout; it is back on B at
    once: B recovers it, A's old socket is disconnected (not left to time out), and what A does
    with the session afterwards (its socket ends: a delete) cannot touch the session B now holds:
    cut again and back on A, it recovers."""
    a, connects_a = worker(hub)
    b, connects_b = worker(hub)
    handle_a, handle_b = await serve(a), await serve(b)
    gone_a: list[str] = []
    a.on("disconnect", lambda sid, reason: gone_a.append(reason))
    relay.upstream_port = handle_a.port
    client, got, sid = await counting_client(relay.url, "polling")
    relay.upstream_port = handle_b.port
    relay.cut()
    await until(lambda: client.connected and len(connects_b) == 1, timeout=5)
    assert connects_b == [(sid, True)]
    await until(lambda: not a.manager.is_connected(sid, "/"), timeout=1.5)  # well before ping timeout
    # A ran its disconnect handler for the old socket: disconnected by B's restore (another
    # worker's DISCONNECT_SOCKETS), hence "server disconnect" (docs/recovery.md)
    assert gone_a == ["server disconnect"]
    await asyncio.sleep(0.1)  # A's delete of the session reaches the hub now (and is ignored)
    relay.upstream_port = handle_a.port
    relay.cut()
    await until(lambda: not b.manager.is_connected(sid, "/"))
    await b.emit("n", 7, to="r1")
    await until(lambda: client.connected and len(connects_a) == 2 and got == [7])
    assert connects_a == [(sid, False), (sid, True)]
    assert sorted(a.rooms(sid)) == sorted([sid, "r1"])
    await client.disconnect()


async def test_a_worker_that_joins_late_starts_sessions_where_the_log_is(
    hub: Hub, serve: Any, relay: Cutter
) -> None:
    """Broadcasts logged before a worker joined the hub are never replayed to a session that
    started on it after them (the hub tells a joining worker where the log is)."""
    a, _ = worker(hub)
    await serve(a)
    for i in range(3):
        await a.emit("n", f"old {i}", to="r1")
    b, connects_b = worker(hub)
    relay.upstream_port = (await serve(b)).port
    client, got, sid = await counting_client(relay.url)
    relay.cut()
    await until(lambda: not b.manager.is_connected(sid, "/"))
    await a.emit("n", "new", to="r1")
    await until(lambda: client.connected and len(connects_b) == 2 and len(got) >= 1)
    await asyncio.sleep(0.2)
    assert got == ["new"] and client.recovered
    await client.disconnect()


async def test_a_worker_delivers_in_the_logs_order_when_answers_and_relays_arrive_together(
    tmp_path: Path, serve: Any
) -> None:
    """A scripted hub answers a worker's LOG with its OFFSET and, in the same write, relays the
    next entry of the log (another worker's broadcast): the worker's client gets its own broadcast
    first, as the log orders them (otherwise its last offset would be the older one, and a
    recovery would replay the newer one twice)."""
    from aiosio.protocol.cluster import ClusterBroadcast, WireOpts, WirePacket, encode_cluster
    from aiosio.workers import hubwire
    from aiosio.workers.hubwire import Kind

    path = str(tmp_path / "scripted.sock")
    other = encode_cluster(
        ClusterBroadcast("0123456789abcdef", "/", WirePacket("/", ["n", "remote"]), WireOpts(("r1",), (), {}))
    )

    async def scripted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hubwire.count(1))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind, _ = hubwire.split(
                    await reader.readexactly(hubwire.frame_length(await reader.readexactly(4)))
                )
                if kind is Kind.LOG:
                    writer.write(hubwire.offset("1800000000000-0") + hubwire.logged("1800000000000-1", other))

    fake = await asyncio.start_unix_server(scripted, path)
    sio = aiosio.AsyncServer(connection_state_recovery=True)
    install_cluster([sio], hub_path=path)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "r1")

    handle = await serve(sio)
    client = aiosio.AsyncClient(strip_offsets=False)
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    try:
        await client.connect(f"http://127.0.0.1:{handle.port}", transports=["websocket"])
        await sio.emit("n", "local", to="r1")
        await until(lambda: len(got) == 2)
        assert got == [("local", "1800000000000-0"), ("remote", "1800000000000-1")]
        await client.disconnect()
    finally:
        fake.close()


async def test_an_entry_relayed_right_behind_a_restore_answer_reaches_the_restored_socket(
    tmp_path: Path, serve: Any, relay: Cutter
) -> None:
    """A scripted hub answers a RESTORE and, in the same write, relays the next entry of the log:
    the restored socket exists (the answer was handed over) before that entry is delivered."""
    from aiosio.protocol.cluster import ClusterBroadcast, WireOpts, WirePacket, encode_cluster, pack
    from aiosio.workers import hubwire
    from aiosio.workers.hubwire import Kind, SessionRecord

    path = str(tmp_path / "scripted.sock")
    other = encode_cluster(
        ClusterBroadcast("0123456789abcdef", "/", WirePacket("/", ["n", "behind"]), WireOpts(("r1",), (), {}))
    )
    saved: dict[str, SessionRecord] = {}

    async def scripted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hubwire.count(1))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = hubwire.frame_length(await reader.readexactly(4))
                kind, body = hubwire.split(await reader.readexactly(length))
                if kind is Kind.SAVE:
                    record = hubwire.parse_save(body)
                    saved[record.pid] = record
                elif kind is Kind.RESTORE:
                    request = hubwire.parse_restore(body)
                    s = saved[request.pid]
                    answer = SessionRecord(s.pid, "/", s.sid, (s.sid, "r1"), None, pack({"user": "ann"}))
                    now = f"{int(time.time() * 1000)}-0"  # an offset the client takes for one
                    writer.write(hubwire.restored((answer, [])) + hubwire.logged(now, other))

    fake = await asyncio.start_unix_server(scripted, path)
    sio = aiosio.AsyncServer(connection_state_recovery=True, ping_interval=1, ping_timeout=1)
    install_cluster([sio], hub_path=path)
    relay.upstream_port = (await serve(sio)).port
    client = fast_client()
    got: list[Any] = []
    client.on("n", got.append)
    try:
        await client.connect(relay.url, transports=["websocket"])
        sid = client.get_sid()
        relay.cut()
        await until(lambda: client.connected and client.recovered and got == ["behind"])
        assert client.get_sid() == sid and sorted(sio.rooms(sid)) == sorted([sid, "r1"])
        await client.disconnect()
    finally:
        fake.close()
