"""The simple-client round-trip timer (the shape of the async simple-client ``latency_client.py``).

Each round emits ``ping_from_client``, then ``receive()``s until the event is exactly
``["pong_from_server"]``, times it and pauses with ``asyncio.sleep``. The example loops forever;
here *rounds* bounds it.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import ModuleType
from typing import Any

import aiosio as socketio

from .pages import server_url


async def measure(
    url: str, lib: ModuleType = socketio, rounds: int = 3, pause: float = 0.05, **connect_kwargs: Any
) -> tuple[list[float], list[list[Any]]]:
    """Return the round trips in seconds and every other event received meanwhile."""
    rtts: list[float] = []
    others: list[list[Any]] = []
    async with lib.AsyncSimpleClient() as sio:
        await sio.connect(url, **connect_kwargs)
        for _ in range(rounds):
            started = time.perf_counter()
            await sio.emit("ping_from_client")
            while (event := await sio.receive()) != ["pong_from_server"]:
                others.append(event)
            rtts.append(time.perf_counter() - started)
            print(f"round trip {rtts[-1] * 1000:.2f} ms")
            await asyncio.sleep(pause)
    return rtts, others


if __name__ == "__main__":
    asyncio.run(
        measure(
            server_url(), rounds=int(os.environ.get("ROUNDS", 10**9)), pause=float(os.environ.get("PAUSE", 1))
        )
    )
