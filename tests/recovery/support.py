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
