"""Connection-state recovery across ``aiosio run --workers N``: real supervisor and worker
processes (``csr_app.py``), the hub in the supervisor keeping the machine's recovery log; clients
under test are aiosio's and npm socket.io-client (Node), over WebSocket and polling, through a TCP
relay the tests cut (a reset, as when a phone loses its network). A controlling aiosio client
drives the broadcasts from inside the workers. Every process is stopped by its pid (the servers by
the ``start`` fixture, Node by the subject)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from csr_support import AiosioSubject, HoldingCutter, Subject, subject, until

import aiosio
from processes import AIOSIO, ServerProcess
from recovery.cutter import cutters

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.timeout(90)

Start = Callable[[list[str]], ServerProcess]


def csr_cmd(count: int, *extra: str) -> list[str]:
    return [
        *AIOSIO,
        "run",
        "csr_app:sio",
        "--app-dir",
        str(HERE),
        "--port",
        "0",
        "--workers",
        str(count),
        "--no-access-log",
        "--shutdown-timeout",
        "3",
        "--loop",
        "asyncio",  # see test_workers.SHUTDOWN_LOOP
        *extra,
    ]


def worker_pids(server: ServerProcess) -> set[int]:
    """The supervisor's child processes (its workers) now."""
    children: set[int] = set()
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        children.update(int(p) for p in (task / "children").read_text().split())
    return children


@pytest.fixture
def workers(start: Start, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ServerProcess]:
    """``workers(count, **recovery)``: the csr app on ``count`` workers with those options."""

    def run(count: int = 2, *extra: str, **recovery: Any) -> ServerProcess:
        monkeypatch.setenv("AIOSIO_TEST_CSR", json.dumps(recovery))
        return start(csr_cmd(count, *extra))

    return run


@pytest.fixture
async def relay() -> AsyncIterator[Callable[[str], Awaitable[HoldingCutter]]]:
    async with cutters(HoldingCutter) as make:

        async def in_front_of(url: str) -> HoldingCutter:
            port = urlparse(url).port
            assert port is not None
            return await make(port)

        yield in_front_of


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Any]]:
    """``clients(kind)`` makes a subject; ``clients.controller(url)`` an aiosio client straight to
    the server. All are closed at the end."""
    subjects: list[Subject] = []
    controllers: list[aiosio.AsyncClient] = []

    def make(kind: str) -> Any:
        made = subject(kind)
        subjects.append(made)
        return made

    async def controller(url: str, avoid: int | None = None) -> tuple[aiosio.AsyncClient, int]:
        """A controlling client, on a worker other than ``avoid`` (new connections until then)."""
        for _ in range(60):
            client = aiosio.AsyncClient(reconnection=False)
            await client.connect(url, transports=["websocket"])
            controllers.append(client)
            pid = await client.call("pid", timeout=5)
            if pid != avoid:
                return client, pid
            await client.disconnect()
            await asyncio.sleep(0.02)
        raise AssertionError(f"every connection landed on worker {avoid}")

    make.controller = controller  # type: ignore[attr-defined]
    yield make
    for client in controllers:
        await client.disconnect()
    for made in subjects:
        await made.close()


async def settle(
    subj: Subject, check: Callable[[dict[str, Any]], bool], timeout: float, what: str
) -> dict[str, Any]:
    """The subject's snapshot once ``check`` holds for it."""
    deadline = time.monotonic() + timeout
    while True:
        snap = await subj.snapshot()
        if check(snap):
            return snap
        if time.monotonic() > deadline:
            got = snap["got"]
            raise AssertionError(
                f"timed out waiting for {what}: {len(got)} got, state {dict(snap, got=None)}"
            )
        await asyncio.sleep(0.05)


async def inspect(controller: aiosio.AsyncClient, sid: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await controller.call("inspect", sid, timeout=10)
    return found


async def stats(controller: aiosio.AsyncClient) -> dict[str, int]:
    found: dict[str, int] = await controller.call("stats", timeout=10)
    return found


@pytest.mark.parametrize("kind", ["aiosio-websocket", "aiosio-polling", "node-websocket", "node-polling"])
async def test_a_cut_during_1000_broadcasts_from_both_workers_loses_nothing(
    workers: Any, relay: Any, clients: Any, kind: str
) -> None:
    """The client's TCP connection is cut while 1,000 numbered events go to its room, every other
    one broadcast by the other worker; it reconnects (to whichever worker the kernel gives it) and
    has all 1,000 exactly once, in order, with the same sid, rooms and session, recovered."""
    server = workers(2)
    cutter = await relay(server.url)
    subj = clients(kind)
    sid = await subj.connect(cutter.url)
    controller, _ = await clients.controller(server.url)
    first = await inspect(controller, sid)
    assert first is not None and first["rooms"] == sorted([sid, "r1"]) and not first["recovered"]
    await controller.call("burst", ("b", 1000, True), timeout=10)
    await settle(subj, lambda s: len(s["got"]) >= 100, 30, "the first 100")
    # Held until the client noticed: a polling client that had no request in flight at a plain
    # cut would carry on over a new TCP connection, never losing its session.
    cutter.hold()
    await settle(subj, lambda s: not s["connected"], 30, "the client noticing the cut")
    cutter.release()
    assert await controller.call("done", "b", timeout=60)
    snap = await settle(
        subj, lambda s: len(s["got"]) >= 1000 and s["connected"] and len(s["connects"]) >= 2, 30, "all 1000"
    )
    await asyncio.sleep(0.3)  # nothing more may come
    snap = await subj.snapshot()
    assert snap["got"] == list(range(1000))
    assert snap["sid"] == sid and snap["recovered"]
    assert [c["recovered"] for c in snap["connects"]] == [False, True]
    found = await inspect(controller, sid)
    assert found is not None
    assert (
        found["rooms"] == sorted([sid, "r1"]) and found["session"] == {"user": "ann"} and found["recovered"]
    )
    counters = await stats(controller)
    assert counters["recovered"] == 1 and counters["refused"] == 0
    print(f"{kind}: first on worker {first['pid']}, recovered on worker {found['pid']}")


@pytest.mark.parametrize("kind", ["aiosio-websocket", "node-polling"])
async def test_sigkill_the_clients_worker_it_recovers_elsewhere(
    workers: Any, clients: Any, kind: str
) -> None:
    """SIGKILL the worker a client is on while another worker broadcasts to its room: the
    supervisor restarts it, the client recovers on a live worker with nothing missed (what was
    broadcast while it was away included), same sid, rooms and session, ``recovered`` true."""
    server = workers(2)
    subj = clients(kind)
    sid = await subj.connect(server.url)
    probe, _ = await clients.controller(server.url)
    found = await inspect(probe, sid)
    assert found is not None
    victim = found["pid"]
    controller, here = await clients.controller(server.url, avoid=victim)
    before = worker_pids(server)
    assert victim in before and here in before and len(before) == 2
    await controller.call("burst", ("k", 1000, False), timeout=10)
    await settle(subj, lambda s: len(s["got"]) >= 100, 30, "the first 100")
    os.kill(victim, signal.SIGKILL)
    assert await controller.call("done", "k", timeout=60)
    snap = await settle(
        subj, lambda s: len(s["got"]) >= 1000 and s["connected"] and len(s["connects"]) >= 2, 30, "all 1000"
    )
    await asyncio.sleep(0.3)
    snap = await subj.snapshot()
    assert snap["got"] == list(range(1000))
    assert snap["sid"] == sid and snap["recovered"]
    assert [c["recovered"] for c in snap["connects"]] == [False, True]
    after = await inspect(controller, sid)
    assert after is not None and after["pid"] != victim and after["recovered"]
    assert after["rooms"] == sorted([sid, "r1"]) and after["session"] == {"user": "ann"}
    await until(
        lambda: len(worker_pids(server)) == 2 and victim not in worker_pids(server), 15, "the restart"
    )
    assert re.search(rf"worker \d+ \(pid {victim}\) exited with status -9; restarting", server.output())


async def burst_while_away(
    workers: Any, relay: Any, clients: Any, burst: tuple[str, int], **recovery: Any
) -> tuple[AiosioSubject, str, aiosio.AsyncClient, HoldingCutter]:
    """Two workers (``recovery`` options), an aiosio WebSocket client through a relay held away
    until no worker holds its socket, then ``burst`` (tag, count) emitted to r1 and finished:
    (subject, its first sid, the controller, the relay)."""
    server = workers(2, **recovery)
    cutter = await relay(server.url)
    subj = clients("aiosio-websocket")
    sid = await subj.connect(cutter.url)
    controller, _ = await clients.controller(server.url)
    cutter.hold()
    await until_gone(controller, sid)
    tag, count = burst
    await controller.call("burst", (tag, count, True), timeout=10)
    assert await controller.call("done", tag, timeout=60)
    return subj, sid, controller, cutter


async def back_with_a_fresh_session(subj: AiosioSubject, sid: str, cutter: HoldingCutter) -> dict[str, Any]:
    """Release the held client; once it reconnected, check it has a new session (another sid,
    not recovered, nothing replayed): its snapshot."""
    cutter.release()
    snap = await settle(subj, lambda s: s["connected"] and len(s["connects"]) >= 2, 30, "the reconnection")
    assert snap["sid"] != sid and not snap["recovered"] and snap["got"] == []
    return snap


async def test_too_many_packets_while_away_gives_a_fresh_session(
    workers: Any, relay: Any, clients: Any
) -> None:
    """More packets than ``max_packets`` sent while the client is away: it gets a fresh session
    (new sid, ``recovered`` false) and the hub keeps only ``max_packets`` (the rest counted)."""
    subj, sid, controller, cutter = await burst_while_away(
        workers, relay, clients, ("m", 200), max_packets=50
    )
    snap = await back_with_a_fresh_session(subj, sid, cutter)
    assert [c["recovered"] for c in snap["connects"]] == [False, False]
    counters = await stats(controller)
    assert counters["packets"] == 50 and counters["evicted_packets"] == 150
    assert counters["refused"] == 1 and counters["recovered"] == 0


async def test_too_long_away_gives_a_fresh_session(workers: Any, relay: Any, clients: Any) -> None:
    """Away longer than ``max_disconnection_duration``: a fresh session, the old one expired."""
    subj, sid, controller, cutter = await burst_while_away(
        workers, relay, clients, ("t", 10), max_disconnection_duration=1
    )
    await asyncio.sleep(1.5)
    await back_with_a_fresh_session(subj, sid, cutter)
    counters = await stats(controller)
    assert counters["refused"] == 1 and counters["recovered"] == 0 and counters["expired_sessions"] >= 1


async def until_gone(controller: aiosio.AsyncClient, sid: str) -> None:
    """Wait until no worker holds ``sid`` (its connection was seen to be lost)."""
    deadline = time.monotonic() + 15
    while await inspect(controller, sid) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{sid} is still connected")
        await asyncio.sleep(0.05)


async def test_with_redis_recovery_stays_refused_with_the_reason(
    workers: Any, clients: Any, tmp_path: Path
) -> None:
    """``--redis URL`` (the classic adapter keeps no log): recovery is off, the log says why, and
    clients are served as without it."""
    from cluster.redis_fixtures import running_redis

    with running_redis("redis-server", tmp_path / "redis") as redis_server:
        server = workers(2, "--redis", redis_server.url)
        subj = clients("aiosio-websocket")
        assert isinstance(subj, AiosioSubject)
        await subj.connect(server.url)
        controller, _ = await clients.controller(server.url)
        assert await controller.call("recovering", timeout=5) is False
        assert re.search(r"server 0: connection-state recovery is off: .*--workers hub", server.output())
        assert "AsyncRedisManager(mode='streams') or the --workers hub" in server.output()
        await controller.disconnect()
        await subj.close()
        server.stop()


async def test_a_rolling_restart_recovers_the_clients_of_each_replaced_worker(
    workers: Any, clients: Any
) -> None:
    """SIGHUP replaces both workers one at a time while a worker broadcasts: the client of a
    replaced worker reconnects to another and is recovered, with nothing missed: every event of
    every burst that completed, once, in order."""
    server = workers(2)
    subj = clients("aiosio-websocket")
    sid = await subj.connect(server.url)
    controller, _ = await clients.controller(server.url)
    before = worker_pids(server)
    server.proc.send_signal(signal.SIGHUP)
    completed: list[int] = []
    for i in range(100):
        try:
            await controller.call("burst", (f"h{i}", 20, False, 20 * i), timeout=5)
            if await controller.call("done", f"h{i}", timeout=10):
                completed.extend(range(20 * i, 20 * i + 20))
        except (aiosio.exceptions.SocketIOError, TimeoutError):  # the controller's worker went
            controller, _ = await clients.controller(server.url)
        if not (before & worker_pids(server)) and len(worker_pids(server)) == 2:
            break
        await asyncio.sleep(0.05)
    assert not (before & worker_pids(server)), "the workers were not replaced"
    snap = await settle(subj, lambda s: s["connected"] and len(s["connects"]) >= 2, 30, "the reconnection")
    await asyncio.sleep(0.3)
    snap = await subj.snapshot()
    got = snap["got"]
    assert got == sorted(set(got)) and set(completed) <= set(got) and len(completed) >= 100
    assert snap["sid"] == sid and snap["recovered"]
    assert [c["recovered"] for c in snap["connects"]] == [False] + [True] * (len(snap["connects"]) - 1)
