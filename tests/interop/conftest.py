"""Fixtures for the interop tests: the Node socket.io-client driver and the transport modes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from node_driver import MODES, NodeDriver

from peers import require_node


@pytest.fixture
async def node() -> AsyncIterator[NodeDriver]:
    """A running Node driver (a missing node or npm peer skips the test, fails it on CI: tests/peers.py)."""
    require_node()
    driver = await NodeDriver.start(watchdog=60)
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """Transport mode: ``websocket``, ``polling`` or ``upgrade`` (polling then websocket)."""
    return str(request.param)
