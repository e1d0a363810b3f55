"""Server CPU time per echo of the benchmark's server, over real sockets: WebSocket or long-polling.

Starts ``benchmarks/servers/sio_server.py`` in a child process and runs the ``echo`` loop against it
from this process (raw Engine.IO clients on aiohttp: each sends ``42<id>["echo","hello"]`` when the
previous ack has arrived), then prints the server's CPU time (user + system, from
``/proc/<pid>/stat``) per echo. CPU time, not throughput: the number hardly depends on how fast the
clients are or on other load on the machine, so two trees can be compared on a busy machine
(alternate them and take medians).

    python benchmarks/micro/server_cpu.py [websocket|polling] [RUNS] [--impl aiosio|psio]
    PYTHONPATH=/other/tree/src python benchmarks/micro/server_cpu.py   # another version
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent / "servers" / "sio_server.py"
CLIENTS = 20
ECHOES = 1500  # per client and run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ws_client(http: aiohttp.ClientSession, url: str, echoes: int) -> None:
    async with http.ws_connect(url + "&transport=websocket") as ws:
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40{")
        for i in range(echoes):
            await ws.send_str(f'42{i}["echo","hello"]')
            reply = await ws.receive_str()
            assert reply.startswith(f"43{i}"), reply


async def _polling_client(http: aiohttp.ClientSession, url: str, echoes: int) -> None:
    url += "&transport=polling"
    async with http.get(url) as r:
        sid = orjson.loads((await r.text())[1:])["sid"]
    url += "&sid=" + sid
    async with http.post(url, data="40") as r:
        await r.read()
    async with http.get(url) as r:
        assert (await r.text()).startswith("40{")
    for i in range(echoes):
        async with http.post(url, data=f'42{i}["echo","hello"]') as r:
            await r.read()
        async with http.get(url) as r:
            reply = await r.text()
            assert reply.startswith(f"43{i}"), reply


async def _run(port: int, pid: int, transport: str, runs: int) -> list[float]:
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4"
    client = _ws_client if transport == "websocket" else _polling_client
    results = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(client(http, url, 50) for _ in range(CLIENTS)))  # warm-up
        for _ in range(runs):
            before = _cpu_seconds(pid)
            await asyncio.gather(*(client(http, url, ECHOES) for _ in range(CLIENTS)))
            results.append((_cpu_seconds(pid) - before) / (CLIENTS * ECHOES) * 1e6)
    return results


def main() -> None:
    """Print the median server CPU µs per echo over RUNS runs (and every run's)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", nargs="?", default="websocket", choices=("websocket", "polling"))
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--impl", default="aiosio")
    args = parser.parse_args()
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(SERVER.parent)) if p)
    cmd = [sys.executable, str(SERVER), "--impl", args.impl, "--loop", "asyncio", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
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
        results = asyncio.run(_run(port, proc.pid, args.transport, args.runs))
    finally:
        proc.terminate()
        proc.wait(10)
    runs = " ".join(f"{r:.1f}" for r in results)
    print(f"{args.impl} {args.transport}: {statistics.median(results):.1f} µs server CPU per echo ({runs})")


if __name__ == "__main__":
    main()
