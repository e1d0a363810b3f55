"""Fixtures of the connection-state recovery tests: a TCP relay to cut client connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .cutter import Cutter


@pytest.fixture
async def cutter() -> AsyncIterator[Callable[[int], Awaitable[Cutter]]]:
    """``relay = await cutter(port)``: a :class:`Cutter` in front of ``port``, closed at the end."""
    made: list[Cutter] = []

    async def make(port: int) -> Cutter:
        relay = Cutter(port)
        await relay.start()
        made.append(relay)
        return relay

    yield make
    for relay in made:
        await relay.close()
