"""An event-driven round-trip timer (the shape of python-socketio's async ``latency_client.py``).

On ``connect`` it sends ``ping_from_client``; each ``pong_from_server`` is timed, then after
``sio.sleep(pause)`` another ping goes out while ``sio.connected``. After *rounds* pongs it
disconnects (the example runs until interrupted), which ends ``wait()``.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import ModuleType
from typing import Any

import aiosio as socketio

from .pages import server_url


def make(lib: ModuleType = socketio, rounds: int = 3, pause: float = 0.05) -> tuple[Any, list[float]]:
    """A client with the handlers installed, and the list of round trips (seconds) they fill."""
    sio = lib.AsyncClient()
    rtts: list[float] = []
    sent_at = [0.0]

    async def ping() -> None:
        sent_at[0] = time.perf_counter()
        await sio.emit("ping_from_client")

    @sio.event
    async def connect() -> None:
        print("connected")
        await ping()

    @sio.event
    async def pong_from_server() -> None:
        rtts.append(time.perf_counter() - sent_at[0])
        print(f"round trip {rtts[-1] * 1000:.2f} ms")
        if len(rtts) >= rounds:
            await sio.disconnect()
            return
        await sio.sleep(pause)
        if sio.connected:
            await ping()

    return sio, rtts


async def run(sio: Any, url: str, **connect_kwargs: Any) -> None:
    """Connect and wait until disconnected."""
    await sio.connect(url, **connect_kwargs)
    await sio.wait()


if __name__ == "__main__":
    asyncio.run(run(make(rounds=int(os.environ.get("ROUNDS", 10**9)), pause=1)[0], server_url()))
