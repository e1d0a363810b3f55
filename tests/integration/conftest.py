"""Fixtures for the integration tests: python-socketio ``AsyncClient`` peers and raw HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import socketio  # PyPI python-socketio, used only as the *client* peer

#: ``transports=`` for the python-socketio client in each mode (``None``: polling, then upgrade).
TRANSPORTS: dict[str, list[str] | None] = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": None,
}


@pytest.fixture(params=list(TRANSPORTS))
def mode(request: pytest.FixtureRequest) -> str:
    """Transport mode: ``websocket``, ``polling`` or ``upgrade`` (polling then websocket)."""
    return str(request.param)


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., socketio.AsyncClient]]:
    """Factory for ``socketio.AsyncClient(reconnection=False)``; disconnected at teardown."""
    made: list[socketio.AsyncClient] = []

    def _make(**kwargs: Any) -> socketio.AsyncClient:
        kwargs.setdefault("reconnection", False)
        client = socketio.AsyncClient(**kwargs)
        made.append(client)
        return client

    yield _make
    for client in made:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 5)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp client session (for Engine.IO-level HTTP and WebSocket requests)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
