"""Helpers of the connection-state recovery tests (here, on Redis Streams and across --workers):
a wait, and an aiosio client that reconnects at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiosio


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``check()`` is true (fails the test after ``timeout`` seconds)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def fast_client(**options: Any) -> aiosio.AsyncClient:
    """An aiosio client that reconnects at once (``options`` override that)."""
    settings: dict[str, Any] = {
        "reconnection_delay": 0.05,
        "reconnection_delay_max": 0.1,
        "randomization_factor": 0,
    }
    return aiosio.AsyncClient(**{**settings, **options})


async def counting_client(
    url: str, transport: str = "websocket", **options: Any
) -> tuple[aiosio.AsyncClient, list[Any], str]:
    """A :func:`fast_client` (``options``) connected to ``url`` over ``transport``, recording each
    ``n`` event's argument in ``got``; checks it got a new session: (client, got, sid)."""
    client = fast_client(**options)
    got: list[Any] = []
    client.on("n", got.append)
    await client.connect(url, transports=[transport])
    sid = client.get_sid()
    assert sid is not None and not client.recovered
    return client, got, sid
