"""The CPU cost of the observer seam and of aiosio.metrics on the two hot paths, in-process.

Fan-out: one ``sio.emit`` to N WebSocket sockets (ns of CPU per recipient); echo: an EVENT message
in, its handler (``async def echo: return data``, as the load benchmark's) and the ACK out (µs of
CPU per message). The sockets write to fake streams, so the numbers are the library's own Python
work, without the kernel's; CPU time (``process_time``), best of 15, so other load on a shared
machine matters less than in ``benchmarks/run.py``.

    python benchmarks/micro/observe_cost.py [off|metrics] [RUNS]   # RUNS > 1: medians of RUNS processes
    PYTHONPATH=/other/tree/src python benchmarks/micro/observe_cost.py   # another version

Another version, e.g. the tree before the observer seam: ``git archive 426f83d^ src | tar -x -C
/tmp/pre`` then ``PYTHONPATH=/tmp/pre/src``. Run versions alternately: the machine's load drifts.
Traffic is counted once per broadcast by the adapter, so the fan-out line has no counting per
recipient whichever mode.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import statistics
import subprocess
import sys
import time
from typing import Any

import aiosio


class _Raw:
    """A raw stream that takes every write at once."""

    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        pass


class _Sink:
    def __init__(self) -> None:
        self.raw = _Raw()

    async def close(self) -> None:
        pass

    def send_polling(self, queue: Any) -> None:
        pass


async def measure(clients: int, mode: str) -> tuple[float, float]:
    """(ns per fan-out recipient, µs per echo message)."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    if mode == "metrics":
        registry = importlib.import_module("prometheus_client").CollectorRegistry()
        importlib.import_module("aiosio.metrics").instrument(sio, registry)
    core = sio.eio.core
    sio._adapter_ready = True
    sessions = []
    for _ in range(clients):
        session = core.new_session("websocket", None)
        session.attach_websocket(_Sink())  # type: ignore[arg-type]
        await sio.on_connect(session)
        sio.on_message(session, "0")  # CONNECT to /
        sessions.append(session)
    await asyncio.sleep(0.01)
    gc.collect()
    gc.disable()
    fanout = echo_cost = float("inf")
    first = sessions[0]
    for _ in range(15):
        start = time.process_time()
        for _ in range(20):
            await sio.emit("msg", "hello world")
        fanout = min(fanout, (time.process_time() - start) / 20 / clients)
        start = time.process_time()
        for _ in range(250):
            for _ in range(20):
                first.message('21["echo","hi"]')
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        echo_cost = min(echo_cost, (time.process_time() - start) / 5000)
    gc.enable()
    return fanout * 1e9, echo_cost * 1e6


def main() -> None:
    """Print the two costs for ``off`` (no observer) or ``metrics`` (aiosio.metrics on); with a run
    count, the medians of that many fresh processes."""
    mode = sys.argv[1] if len(sys.argv) > 1 else "off"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if runs > 1:
        results = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, __file__, mode], check=True, capture_output=True, text=True
            ).stdout
            fields = out.split()
            results.append((float(fields[2]), float(fields[5])))
        fanout = statistics.median(r[0] for r in results)
        echo = statistics.median(r[1] for r in results)
        label = f"{mode} (median of {runs})"
    else:
        fanout, echo = asyncio.run(measure(5000, mode))
        label = mode
    print(f"{label:8s} fan-out {fanout:6.1f} ns/recipient   echo {echo:5.2f} µs/message")


if __name__ == "__main__":
    main()
