"""``aiosio run --workers N``: real supervisor and worker processes, real npm socket.io-client peers.

The app is ``tests/workers/app.py``; ``load.js`` runs the clients (polling only, so every request
after the handshake may land on a worker that does not own the session and be handed over).
Every process is stopped by its pid: the servers by the ``start`` fixture, the Node runner here.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from processes import AIOSIO, ServerProcess

HERE = Path(__file__).resolve().parent
LOAD_JS = HERE / "load.js"
UNKNOWN_SID = {"code": 1, "message": "Session ID unknown"}

pytestmark = pytest.mark.timeout(60)

Start = Callable[[list[str]], ServerProcess]


def workers_cmd(count: int, *extra: str) -> list[str]:
    return [
        *AIOSIO,
        "run",
        "app:sio",
        "--app-dir",
        str(HERE),
        "--port",
        "0",
        "--workers",
        str(count),
        "--no-access-log",
        "--shutdown-timeout",
        "3",
        *extra,
    ]


def worker_pids(server: ServerProcess) -> set[int]:
    """The supervisor's child processes (its workers) now."""
    pid = server.proc.pid
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.update(int(p) for p in text)
    return children


async def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class LoadRun:
    """One ``node load.js`` process; its JSON lines as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, key: str, timeout: float) -> dict[str, Any]:
        """The next JSON line that has ``key``."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    err = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(f"load.js exited without {key!r}: {err.decode()[-2000:]}")
                data = json.loads(raw)
                if "fatal" in data:
                    raise AssertionError(data["fatal"])
                if key in data:
                    return dict(data)


@pytest.fixture
async def load() -> AsyncIterator[Callable[..., Any]]:
    """``await load(url, clients=..., mode=..., ...)`` starts load.js; stopped by pid at the end."""
    runs: list[LoadRun] = []

    async def run(url: str, **cfg: Any) -> LoadRun:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(LOAD_JS),
            json.dumps({"url": url, **cfg}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=HERE,
        )
        runs.append(LoadRun(proc))
        return runs[-1]

    yield run
    for r in runs:
        if r.proc.returncode is None:
            r.proc.kill()
        await r.proc.wait()


def by_worker(clients: list[dict[str, Any]]) -> collections.Counter[int]:
    return collections.Counter(c["pid"] for c in clients)


async def test_polling_clients_on_three_workers(start: Start, load: Any) -> None:
    """200 polling clients, 20 acked emits each, no error; a broadcast to everyone reaches each
    client once; a broadcast to a room, from a worker other than the first broadcaster's, reaches
    exactly its members on every worker; fetch_sockets sees all 200; 3 servers counted; an ack
    broadcast collects 200 acks; a server-side call gets one answer per other worker."""
    server = start(workers_cmd(3))
    run = await load(server.url, clients=200, emits=20, mode="burst")
    result = await run.line("result", 50)
    clients = result["clients"]
    assert len(clients) == 200
    # Why a client went (its sessions' owners are the sids' w<id> prefixes), with its longest wait
    # between two PINGs: a "ping timeout" there is the heartbeat's margin (app.py), not a lost ack.
    gone = [
        (c["sids"], c["disconnects"], c["errors"], c["maxPingGap"])
        for c in clients
        if c["errors"] or c["disconnects"] or c["failed"]
    ]
    assert gone == []
    assert sum(c["ok"] for c in clients) == 200 * 20
    assert any(c["maxPingGap"] > 0 for c in clients)  # the heartbeat ran across the hand-overs
    spread = by_worker(clients)
    assert len(spread) >= 2, spread  # the kernel spread them: the hand-off and the cluster are used
    assert all(c["news"].get("t-all") == 1 for c in clients)
    assert [c["news"].get("t-even", 0) for c in clients] == [1, 0] * 100
    first, other = result["shoutPids"]
    assert first != other
    assert result["servers"] == 3
    assert result["census"] == [200, 0]
    assert result["acked"] == 200  # emit_with_ack aggregated over every worker's clients
    others, missing = result["peers"]  # server_side_call: one answer from each other worker
    assert (len(others), missing) == (2, 0) and first not in others


async def test_sigkill_one_worker(start: Start, load: Any) -> None:
    """A worker killed by SIGKILL is restarted; the clients of the other workers see nothing; the
    dead worker's clients reconnect to a live worker and their acks go on."""
    server = start(workers_cmd(3))
    run = await load(server.url, clients=30, mode="steady", duration=7, retries=3)
    ready = await run.line("ready", 30)
    spread = collections.Counter(ready["pids"])
    victim = spread.most_common(1)[0][0]
    before = worker_pids(server)
    assert victim in before and len(before) == 3
    os.kill(victim, signal.SIGKILL)
    await wait_for(
        lambda: len(worker_pids(server) - before) == 1 and len(worker_pids(server)) == 3,
        15,
        "the restarted worker",
    )
    result = await run.line("result", 40)
    assert re.search(rf"worker \d+ \(pid {victim}\) exited with status -9; restarting", server.output())
    untouched = [c for c in result["clients"] if c["pid"] != victim]
    moved = [c for c in result["clients"] if c["pid"] == victim]
    assert untouched and moved
    # A polling request of another worker's client can be on the killed worker at that moment (it
    # accepted the TCP connection and was handing it over, docs/deployment.md "Known limits"): that
    # client sees its request fail, reconnects and loses nothing. Any other disturbance fails.
    hit = [c for c in untouched if c["disconnects"] or c["connects"] != 1]
    for c in hit:
        assert c["transport"] == "polling" and c["disconnects"] == ["transport error"], c
        assert all("socket hang up" in e or "ECONNRESET" in e for e in c["errors"]), c
        assert c["connected"] and c["connects"] == 2, c
    assert len(hit) <= 2, hit
    assert all(c["failed"] == 0 for c in untouched)
    for c in moved:
        assert c["disconnects"] and c["connected"], c
        assert c["pids"][-1] != victim, c
        assert c["ok"] > 0
    assert victim not in worker_pids(server)


async def test_sighup_rolling_restart_under_load(start: Start, load: Any) -> None:
    """SIGHUP replaces both workers one at a time while 30 clients keep emitting: every client
    ends on a new worker and no ack failed."""
    server = start(workers_cmd(2))
    run = await load(server.url, clients=30, mode="steady", duration=9, retries=5)
    await run.line("ready", 30)
    old = worker_pids(server)
    server.proc.send_signal(signal.SIGHUP)
    await wait_for(lambda: server.output().count("replaced by worker") == 2, 30, "the rolling restart")
    new = worker_pids(server)
    assert len(new) == 2 and not new & old
    result = await run.line("result", 40)
    clients = result["clients"]
    assert [c["errors"] for c in clients if c["failed"]] == []
    assert all(c["connected"] and c["pids"][-1] in new for c in clients), clients
    assert all(c["disconnects"] for c in clients)  # each was on a replaced worker
    # ... told so by an Engine.IO close (never a reset, a ping timeout; test_clean_stop.py).
    reasons = collections.Counter(r for c in clients for r in c["disconnects"])
    assert set(reasons) == {"transport close"}, reasons
    assert sum(c["ok"] for c in clients) > 30 * 10


async def test_unknown_sid_is_the_usual_400(start: Start) -> None:
    """A sid no worker has, whatever its tag says, gets the 400 with its reason: an unknown worker,
    a live worker that does not know it, no tag, a hostile tag; and a WebSocket upgrade for one
    is refused with 400. A session of a killed worker is unknown too."""
    server = start(workers_cmd(2))
    base = server.url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        async with http.get(base) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        assert re.fullmatch(r"w[01]\.[A-Za-z0-9_-]{24}", sid)
        live = sid.split(".")[0]
        for bogus in ("w999.abc", f"{live}.nope", "nope", "w../../etc", "w1" + "9" * 40 + ".x"):
            for _ in range(4):  # through either worker
                async with http.get(f"{base}&sid={bogus}") as resp:
                    assert resp.status == 400
                    assert await resp.json() == UNKNOWN_SID
                async with http.post(f"{base}&sid={bogus}", data="40") as resp:
                    assert resp.status == 400
                    assert await resp.json() == UNKNOWN_SID
        ws_url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket&sid=w999.abc"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(ws_url)
        assert info.value.status == 400
        # The owner of a live session dies: its sid becomes unknown on every worker.
        owner = next(pid for pid in worker_pids(server) if _worker_id(server, pid) == int(live[1:]))
        os.kill(owner, signal.SIGKILL)
        await wait_for(lambda: "restarting" in server.output(), 10, "the restart")
        for _ in range(4):
            async with http.get(f"{base}&sid={sid}") as resp:
                assert resp.status == 400
                assert await resp.json() == UNKNOWN_SID


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _worker_id(server: ServerProcess, pid: int) -> int:
    match = re.search(rf"worker (\d+) \(pid {pid}\) serving", server.output())
    assert match, server.output()
    return int(match.group(1))


async def test_chunked_post_for_another_worker_is_relayed(start: Start) -> None:
    """A chunked POST cannot be replayed byte for byte on a moved connection: it is relayed to the
    owner over its Unix socket, and the client gets the owner's answer (with the owner's access log
    line, from no TCP address, proving the relay ran)."""
    cmd = workers_cmd(2)
    cmd.remove("--no-access-log")
    server = start(cmd)
    base = server.url + "/socket.io/?EIO=4&transport=polling"

    async def chunked(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        async with http.get(base) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        url = f"{base}&sid={sid}"
        async with http.post(url, data=chunked(b"40")) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        async with http.get(url) as resp:
            assert (await resp.text()).startswith("40{")
        # Each request is a new connection, accepted by whichever worker the kernel wakes: under load
        # one worker may win many in a row, so this goes on (bounded) until a POST was relayed, at
        # least 12 times.
        relay = re.compile(r"aiohttp\.access:  \[[^]]*\] \"POST /socket\.io/")
        for i in range(200):
            if i >= 12 and relay.search(server.output()):
                break
            async with http.post(url, data=chunked(b'42%d["echo",%d]' % (i, i))) as resp:
                assert resp.status == 200
                assert resp.headers.get("Transfer-Encoding") is None
                assert await resp.text() == "ok"
            async with http.get(url) as resp:
                assert await resp.text() == f"43{i}[{i}]"
    await wait_for(lambda: '] "POST /socket.io/' in server.output(), 5, "the access log")
    relayed = relay.findall(server.output())
    assert relayed, server.output()[-3000:]
    # The GETs that moved with their connection are logged once, by their owner, with the answer.
    get_line = re.compile(r"\"GET /socket\.io/\?EIO=4&transport=polling&sid=\S+ HTTP/1\.1\" (\d+)")
    await wait_for(lambda: len(get_line.findall(server.output())) >= 13, 5, "the GETs' log lines")
    assert get_line.findall(server.output()) == ["200"] * 13


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port (stopped by its pid)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_workers_through_redis(start: Start, load: Any, redis_url: str) -> None:
    """``--redis URL``: the workers' cluster goes through Redis (the AsyncRedisManager wire)
    instead of the hub, with the same results."""
    server = start(workers_cmd(2, "--redis", redis_url))
    run = await load(server.url, clients=40, emits=5, mode="burst")
    result = await run.line("result", 50)
    clients = result["clients"]
    assert [c["errors"] for c in clients if c["errors"]] == []
    assert sum(c["ok"] for c in clients) == 40 * 5
    assert len(by_worker(clients)) == 2
    assert all(c["news"].get("t-all") == 1 for c in clients)
    assert [c["news"].get("t-even", 0) for c in clients] == [1, 0] * 20
    assert (result["servers"], result["census"], result["acked"]) == (2, [40, 0], 40)
    assert len(result["peers"][0]) == 1 and result["peers"][1] == 0
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:  # both workers hold the classic adapter's request channel: the cluster is Redis's
        assert await client.pubsub_numsub("socket.io-request#/#") == [(b"socket.io-request#/#", 2)]
    finally:
        await client.aclose()


async def test_sigterm_stops_every_worker_cleanly(start: Start, load: Any) -> None:
    """SIGTERM to the supervisor: every worker shuts down gracefully (the clients with a request
    pending are told by an Engine.IO close), within the shutdown timeout; the supervisor exits 0
    and leaves no worker behind."""
    server = start(workers_cmd(3))
    run = await load(server.url, clients=30, mode="steady", duration=2, settle=0.5, ackWait=1000)
    ready = await run.line("ready", 30)
    assert len(set(ready["pids"])) >= 2
    workers = worker_pids(server)
    started = time.monotonic()
    assert await asyncio.to_thread(server.stop, signal.SIGTERM) == 0
    assert time.monotonic() - started < 8  # well within --shutdown-timeout 3 + 5
    assert not [pid for pid in workers if _running(pid)]
    result = await run.line("result", 40)
    # An Engine.IO close, also for a client between two requests (its next GET gets it); never a
    # refused or reset request, a ping timeout, a hang or a Socket.IO "io server disconnect".
    first = collections.Counter(c["disconnects"][0] for c in result["clients"])
    assert set(first) == {"transport close"}, first
