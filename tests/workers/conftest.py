"""Fixtures of the workers' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiosio.workers.hub import Hub


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A started workers' hub on a Unix socket in ``tmp_path``, closed at teardown."""
    hub = Hub(str(tmp_path / "hub.sock"))
    await hub.start()
    yield hub
    await hub.close()
