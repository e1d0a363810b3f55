"""Fixtures of the connection-state recovery tests: a TCP relay to cut client connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .cutter import Cutter, cutters


@pytest.fixture
async def cutter() -> AsyncIterator[Callable[[int], Awaitable[Cutter]]]:
    """``relay = await cutter(port)``: a :class:`Cutter` in front of ``port``, closed at the end."""
    async with cutters() as make:
        yield make
