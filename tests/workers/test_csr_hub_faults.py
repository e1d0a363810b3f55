"""Connection-state recovery through the workers' hub when things go wrong: an emit cancelled
after its LOG was written, a hub that stops answering, a worker that stops reading, a restore
the server does not take up, two restores of one pid at once. Real hub (or a scripted one on a
real Unix socket, for a hub that misbehaves), real aiosio servers as its workers, aiosio's client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
from csr_support import until

import aiosio
from aiosio.recovery import RecoveryOptions
from aiosio.recovery.store import SessionState
from aiosio.workers import hub as hub_module
from aiosio.workers import hub_log, hubwire, local_driver
from aiosio.workers.hub import Hub
from aiosio.workers.hub_log import ChannelLog, HubSession
from aiosio.workers.hub_store import HubStore
from aiosio.workers.hubwire import Kind, LogRecord, RecoveryConfig, RestoreRequest, SessionRecord
from aiosio.workers.install import install_cluster

pytestmark = pytest.mark.timeout(60)

NOW = 1_800_000_000.0


def worker(hub_path: str, lost: list[int] | None = None) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(connection_state_recovery=True)
    on_lost = None if lost is None else (lambda: lost.append(1))
    assert install_cluster([sio], hub_path=hub_path, on_lost=on_lost) == 1
    return sio


def store_of(sio: aiosio.AsyncServer) -> HubStore:
    store = sio._recovery
    assert isinstance(store, HubStore)
    return store


def join_r1(sio: aiosio.AsyncServer) -> None:
    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "r1")


# -- a cancelled emit ---------------------------------------------------------------------------


async def test_an_emit_cancelled_after_its_log_was_written_reaches_this_workers_clients_too(
    hub: Hub, serve: Any
) -> None:
    """Its entry is in the log and the other worker delivers it: this worker's clients get it
    too, with the same offset and in the log's order (else a silent gap: the next offset passes
    it, and a recovery never replays it)."""
    a, b = worker(hub.path), worker(hub.path)
    for sio in (a, b):
        join_r1(sio)
    handles = [await serve(a), await serve(b)]
    got: list[list[tuple[Any, ...]]] = [[], []]
    clients = []
    for handle, box in zip(handles, got, strict=True):
        client = aiosio.AsyncClient(strip_offsets=False)
        client.on("n", lambda *args, box=box: box.append(args))
        await client.connect(handle.url, transports=["websocket"])
        clients.append(client)
    await until(lambda: all(len(s.rooms(c.get_sid())) == 2 for s, c in zip((a, b), clients, strict=True)))
    emitting = asyncio.ensure_future(a.emit("n", "cancelled", to="r1"))
    await asyncio.sleep(0)  # under way
    emitting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await emitting
    await a.emit("n", "next", to="r1")
    await until(lambda: len(got[0]) == 2 and len(got[1]) == 2)
    assert [args[0] for args in got[0]] == ["cancelled", "next"]
    assert got[0] == got[1]  # same offsets on both workers
    for client in clients:
        await client.disconnect()


# -- a hub that stops answering ---------------------------------------------------------------------


async def scripted_hub(path: str, answer_after: float | None) -> asyncio.AbstractServer:
    """A hub that counts one member and answers each LOG ``answer_after`` seconds after the
    previous answer (None: never answers anything)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hubwire.count(1))
        seq = 0
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = hubwire.frame_length(await reader.readexactly(4))
                kind, _ = hubwire.split(await reader.readexactly(length))
                if kind is Kind.LOG and answer_after is not None:
                    await asyncio.sleep(answer_after)
                    writer.write(hubwire.offset(f"{int(time.time() * 1000)}-{seq}"))
                    seq += 1

    return await asyncio.start_unix_server(serve, path)


@pytest.mark.allow_server_errors(r"lost the connection to the workers' hub: no answer from the hub")
async def test_a_hub_that_stops_answering_counts_as_lost_after_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_driver, "ANSWER_WAIT", 0.5)
    fake = await scripted_hub(str(tmp_path / "silent.sock"), None)
    lost: list[int] = []
    sio = worker(str(tmp_path / "silent.sock"), lost)
    try:
        assert await sio._start_adapter()
        started = time.monotonic()
        restoring = asyncio.ensure_future(store_of(sio).restore("/", "p" * 20, None))
        with pytest.raises(ConnectionError, match="no answer from the hub"):
            async with asyncio.timeout(5):
                await sio.emit("n", 1)
        assert 0.4 < time.monotonic() - started < 3
        assert await asyncio.wait_for(restoring, 1) is None  # a fresh session, not a hang
        assert lost == [1]
        driver = store_of(sio).driver
        assert not driver._offsets and not driver._restores
    finally:
        await asyncio.wait_for(sio.shutdown(), 5)
        fake.close()


async def test_a_slow_hub_that_keeps_answering_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline counts from the last answer: requests queued behind others may wait longer."""
    monkeypatch.setattr(local_driver, "ANSWER_WAIT", 0.5)
    fake = await scripted_hub(str(tmp_path / "slow.sock"), 0.3)
    lost: list[int] = []
    sio = worker(str(tmp_path / "slow.sock"), lost)
    try:
        assert await sio._start_adapter()
        started = time.monotonic()
        await asyncio.gather(*(sio.emit("n", i) for i in range(5)))
        assert time.monotonic() - started > 1.2  # the last waited 1.5 s, three times the deadline
        assert not lost
    finally:
        await asyncio.wait_for(sio.shutdown(), 5)
        fake.close()


async def test_a_broadcast_the_hub_refuses_to_log_fails_alone(tmp_path: Path) -> None:
    """An empty OFFSET (a LOG the hub found beyond its limits: another version's worker) fails
    that emit with ValueError; the connection and the next emits are fine."""
    path = str(tmp_path / "refusing.sock")

    async def refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hubwire.count(1))
        answers = [None, f"{int(time.time() * 1000)}-0"]
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = hubwire.frame_length(await reader.readexactly(4))
                kind, _ = hubwire.split(await reader.readexactly(length))
                if kind is Kind.LOG:
                    writer.write(hubwire.offset(answers.pop(0)))

    fake = await asyncio.start_unix_server(refusing, path)
    lost: list[int] = []
    sio = worker(path, lost)
    try:
        assert await sio._start_adapter()
        with pytest.raises(ValueError, match="refused to log"):
            await sio.emit("n", 1)
        await sio.emit("n", 2)
        assert not lost
    finally:
        await asyncio.wait_for(sio.shutdown(), 5)
        fake.close()


# -- a worker that stops reading ----------------------------------------------------------------------


async def test_a_member_that_stops_reading_is_disconnected_in_a_logged_channel_only(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a log, a relayed entry it misses would be a silent gap for its clients: it is
    disconnected instead (its sessions become lost, and recover elsewhere). Without one, what it
    misses is dropped and counted, as before."""
    monkeypatch.setattr(hub_module, "MAX_BACKLOG", 64 * 1024)
    members = []
    for uid, channel in (
        ("sender", "server-0"),
        ("frozen", "server-0"),
        ("sender", "server-1"),
        ("frozen", "server-1"),
    ):
        reader, writer = await asyncio.open_unix_connection(hub.path)
        writer.write(hubwire.hello(uid, channel))
        members.append((reader, writer))
    (sender, to_hub), (_, frozen), (_, plain_to_hub), _ = members
    frozen.write(hubwire.recovery(RecoveryConfig(60, 1000, 64 * 1024 * 1024, 10, None)))
    frozen.write(hubwire.save(SessionRecord("p1", "/", "s1", ("s1",), None, b"\xc0")))
    await until(lambda: hub.members("server-0") == 2 and hub.members("server-1") == 2)
    chunk = b"m" * 256 * 1024
    for _ in range(40):
        to_hub.write(hubwire.log(LogRecord("/", None, (), False, chunk)))
        plain_to_hub.write(hubwire.frame(Kind.PUBLISH, chunk))
    await until(lambda: hub.members("server-0") == 1)
    await asyncio.sleep(0.2)
    assert hub.members("server-1") == 2  # no log: the frozen member stays
    to_hub.write(hubwire.restore(RestoreRequest("/", "p1", None)))
    async with asyncio.timeout(10):
        while True:
            length = hubwire.frame_length(await sender.readexactly(4))
            kind, body = hubwire.split(await sender.readexactly(length))
            if kind is Kind.RESTORED:
                break
    answer = hubwire.parse_restored(body)
    assert answer is not None and answer[0].sid == "s1" and len(answer[1]) == 40
    for _, writer in members:
        writer.transport.abort()


# -- a restore the server does not take up ------------------------------------------------------------


async def test_a_restore_not_taken_up_goes_back_to_the_hub_and_counts_as_refused(hub: Hub) -> None:
    """The server asked for it but did not take it (the client left meanwhile): no mark is left
    behind in the store, the session is a lost one again at the hub (the client's next attempt
    recovers it at once), and the restore counts as refused, not recovered."""
    a, b = worker(hub.path), worker(hub.path)
    try:
        for sio in (a, b):
            assert await sio._start_adapter()
        store_a, store_b = store_of(a), store_of(b)
        store_a.persist(SessionState("s1", "p1", "/", ("s1", "r1"), {"user": "ann"}, None))
        await store_a.fetch_stats()
        assert await store_b.restore("/", "p1", None) is not None  # not discarded, never saved
        await asyncio.sleep(0.01)
        assert store_b._restored == {}
        again = await store_a.restore("/", "p1", None)  # at once: no hand-over guard left
        assert again is not None and again.session.data == {"user": "ann"}
        store_a.discard("p1")  # taken up this time (as the server does), then written
        store_a.save_session(again.session)
        stats = await store_b.fetch_stats()
        assert (stats.recovered, stats.refused) == (1, 1)  # b's own refusal is b's to count
        assert (await store_a.fetch_stats()).sessions == 1 and store_a._restored == {}
    finally:
        await a.shutdown()
        await b.shutdown()


# -- two restores of one pid at once ------------------------------------------------------------------


def test_a_session_just_handed_over_is_not_handed_over_again_until_written_or_later() -> None:
    log = ChannelLog(RecoveryOptions(), window=None)
    log.lose(HubSession("p1", "/", "s1", ("s1",), None, b"\xc0", "A"), NOW)
    assert log.restore("B", "/", "p1", None, NOW) is not None
    assert log.restore("C", "/", "p1", None, NOW + 0.5) is None  # a second socket for s1: refused
    assert log.restore("C", "/", "p1", None, NOW + hub_log.HAND_OVER_GUARD) is not None  # B never wrote it
    log.save(HubSession("p1", "/", "s1", ("s1",), None, b"\xc0", "C"), NOW + 1.1)
    assert log.restore("D", "/", "p1", None, NOW + 1.2) is not None  # C wrote it: a take-over
    assert log.snapshot(NOW + 2).refused == 1


async def test_two_restores_of_one_pid_on_two_workers_at_once_give_one_session(hub: Hub) -> None:
    a, b, c = worker(hub.path), worker(hub.path), worker(hub.path)
    try:
        for sio in (a, b, c):
            assert await sio._start_adapter()
        store_of(a).persist(SessionState("s1", "p1", "/", ("s1",), None, None))
        await store_of(a).fetch_stats()
        answers = await asyncio.gather(
            store_of(b).restore("/", "p1", None), store_of(c).restore("/", "p1", None)
        )
        assert sum(answer is not None for answer in answers) == 1
    finally:
        for sio in (a, b, c):
            await sio.shutdown()
