"""Connection-state recovery never claims a recovery a cluster could have made lossy: with a
cluster adapter it is refused (ValueError at construction) or turned off with a warning."""

from __future__ import annotations

from typing import Any

import pytest

import aiosio
from aiosio.adapters.cluster import ClusterAdapter


def test_recovery_with_a_redis_manager_is_refused() -> None:
    manager = aiosio.AsyncRedisManager("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="cluster adapter"):
        aiosio.AsyncServer(client_manager=manager, connection_state_recovery=True)


async def test_a_cluster_adapter_installed_later_turns_recovery_off(caplog: Any) -> None:
    sio = aiosio.AsyncServer(connection_state_recovery=True)
    manager = aiosio.AsyncRedisManager("redis://127.0.0.1:1/0")
    assert isinstance(manager.adapter, ClusterAdapter)
    sio._adapter = manager.adapter  # what a supervisor installing a cluster adapter does
    sio.manager.adapter = manager.adapter
    with caplog.at_level("WARNING", logger="aiosio.server"):
        await sio._start_adapter()
    assert sio.recovery_stats() is None
    assert "connection-state recovery is off" in caplog.text
    await sio.shutdown()
