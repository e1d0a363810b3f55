"""Memory per idle WebSocket connection of the benchmark's aiosio server, and where it goes.

Starts ``benchmarks/servers/sio_server.py --impl aiosio`` (or another ``--impl``) in a child process,
opens N raw WebSocket clients to it (each connected to ``/`` at the Socket.IO level: ``40`` sent,
``40{...}`` received), and prints the server's RSS growth per connection, as the ``connections``
scenario of ``benchmarks/run.py`` measures it (after 20 warm-up connections have come and gone).

With ``--trace`` the server runs under tracemalloc (``PYTHONTRACEMALLOC``) and prints, on SIGUSR1,
the allocations made between the two snapshots grouped by file and line: which objects an idle
connection keeps alive. Python-level bytes only (RSS also counts the allocator's slack).

    python benchmarks/micro/idle_memory.py [N] [--trace] [--impl aiosio|psio]
    PYTHONPATH=/other/tree/src python benchmarks/micro/idle_memory.py   # another version
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent / "servers" / "sio_server.py"

_TRACER = """
import signal, sys, tracemalloc, runpy
tracemalloc.start(30)
snaps = []
def dump(*_):
    snaps.append(tracemalloc.take_snapshot())
    if len(snaps) == 2:
        stats = snaps[1].compare_to(snaps[0], "lineno")
        total = sum(s.size_diff for s in stats)
        print(f"traced: {total / 1024:.0f} KiB more", file=sys.stderr)
        for s in stats[:30]:
            print(s, file=sys.stderr, flush=True)
        # Allocations made under aiosio's own code, by its innermost frame.
        mine = {}
        for s in snaps[1].compare_to(snaps[0], "traceback"):
            frame = next((f for f in reversed(s.traceback) if "/aiosio/" in f.filename), None)
            key = "not under aiosio" if frame is None else f"{frame.filename}:{frame.lineno}"
            mine[key] = mine.get(key, 0) + s.size_diff
        print("--- by innermost aiosio frame", file=sys.stderr)
        for key, size in sorted(mine.items(), key=lambda kv: -kv[1])[:25]:
            print(f"{size / 1024:9.0f} KiB  {key}", file=sys.stderr, flush=True)
signal.signal(signal.SIGUSR1, dump)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(url)
    opened = await ws.receive_str()
    assert opened.startswith("0{"), opened
    await ws.send_str("40")
    reply = await ws.receive_str()
    assert reply.startswith("40{"), reply
    return ws


async def _run(n: int, port: int, pid: int, trace: bool) -> float:
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        warm = [await _connect(http, url) for _ in range(20)]
        for ws in warm:
            await ws.close()
        await asyncio.sleep(1.0)
        if trace:
            os.kill(pid, signal.SIGUSR1)
            await asyncio.sleep(1.0)
        before = _rss_kib(pid)
        sem = asyncio.Semaphore(100)

        async def one() -> aiohttp.ClientWebSocketResponse:
            async with sem:
                return await _connect(http, url)

        clients = await asyncio.gather(*(one() for _ in range(n)))
        await asyncio.sleep(2.0)
        after = _rss_kib(pid)
        if trace:
            os.kill(pid, signal.SIGUSR1)
            await asyncio.sleep(3.0)
        for ws in clients:
            await ws.close()
    return (after - before) / n


def main() -> None:
    """Run one measurement and print KiB per idle connection."""
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--impl", default="aiosio")
    args = parser.parse_args()
    port = _free_port()
    cmd = [str(SERVER), "--impl", args.impl, "--loop", "asyncio", "--port", str(port)]
    if args.trace:
        cmd = ["-c", _TRACER, *cmd]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(SERVER.parent)) if p)
    proc = subprocess.Popen([sys.executable, *cmd], env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        per = asyncio.run(_run(args.n, port, proc.pid, args.trace))
        print(f"{args.impl}: {per:.2f} KiB RSS per idle WebSocket connection ({args.n})")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
