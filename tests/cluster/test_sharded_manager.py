"""``AsyncRedisManager(mode="sharded")`` and ``ShardedDriver`` options: what each builds, and a clear
error for every combination that cannot work (no Redis needed: nothing connects before start)."""

from __future__ import annotations

from typing import Any

import pytest

import aiosio
from aiosio.adapters.cluster import ClusterAdapter
from aiosio.adapters.redis._link import RedisLink
from aiosio.adapters.redis.sharded import ShardedDriver

URL = "redis://127.0.0.1:1/0"  # never connected to


def driver_of(manager: aiosio.AsyncManager) -> Any:
    adapter = manager.adapter
    assert isinstance(adapter, ClusterAdapter)
    return adapter.driver


async def test_sharded_manager_builds_a_sharded_driver() -> None:
    """mode='sharded': the channel is the prefix, Node's default mode is dynamic, the uid 16 hex, the
    link sharded (SSUBSCRIBE/SPUBLISH); cluster=True makes it a Redis Cluster link."""
    driver = driver_of(aiosio.AsyncRedisManager(URL, "app", mode="sharded"))
    assert isinstance(driver, ShardedDriver)
    assert (driver.prefix, driver.mode, len(driver.uid)) == ("app", "dynamic", 16)
    assert int(driver.uid, 16) >= 0 and driver.link.sharded and not driver.link.cluster
    private = driver_of(aiosio.AsyncRedisManager(URL, mode="sharded", subscription_mode="dynamic-private"))
    assert private.mode == "dynamic-private" and private.uid != driver.uid
    on_cluster = driver_of(aiosio.AsyncRedisManager(URL, mode="sharded", cluster=True))
    assert on_cluster.link.cluster and on_cluster.link.sharded
    await driver.link.close()
    await private.link.close()
    await on_cluster.link.close()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "stream"}, "unknown Redis adapter mode 'stream'"),
        ({"mode": "streams", "write_only": True}, "write_only publishes in the emitter's format"),
        ({"mode": "classic", "cluster": True}, "needs mode='sharded'"),
        ({"mode": "sharded", "write_only": True}, "write_only publishes in the emitter's format"),
        ({"mode": "sharded", "subscription_mode": "private"}, "subscription_mode must be one of"),
    ],
)
def test_impossible_combinations_are_refused(kwargs: dict[str, Any], error: str) -> None:
    """Each one raises ValueError saying what to change."""
    with pytest.raises(ValueError, match=error):
        aiosio.AsyncRedisManager(URL, **kwargs)


async def test_a_given_link_must_be_sharded() -> None:
    """A classic (PUBLISH/SUBSCRIBE) link cannot carry the sharded wire; a sharded one is used as is."""
    classic = RedisLink(URL, on_message=lambda channel, payload: None)
    with pytest.raises(ValueError, match="sharded=True"):
        ShardedDriver(link=classic)
    sharded = RedisLink(URL, on_message=lambda channel, payload: None, sharded=True)
    assert ShardedDriver(link=sharded).link is sharded
    await classic.close()
    await sharded.close()
