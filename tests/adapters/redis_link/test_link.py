"""RedisLink against a real redis-server: round trips, order, batching, outages, close, sharding."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aiosio.adapters.redis._link import RedisLink

from .conftest import RedisClusterProcs, RedisServer, cli

WAIT = 10.0


class Inbox:
    """What a link received, in order, with a way to wait for a count."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def __call__(self, channel: str, payload: bytes) -> None:
        self.got.append((channel, payload))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[tuple[str, bytes]]:
        """Wait until ``count`` messages arrived."""
        async with asyncio.timeout(timeout):
            while len(self.got) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.got


async def until(check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll ``check`` (a state in Redis or in the link, no event to await) until it holds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


@pytest.fixture
async def make_link() -> AsyncIterator[Callable[..., RedisLink]]:
    """Build started links; every one is closed at the end."""
    links: list[RedisLink] = []

    def build(url: str, **kwargs: Any) -> RedisLink:
        kwargs.setdefault("on_message", Inbox())
        link = RedisLink(url, **kwargs)
        links.append(link)
        return link

    yield build
    for link in links:
        await link.close()


async def started(link: RedisLink) -> RedisLink:
    await link.start()
    await until(lambda: link.connected)
    return link


async def test_publish_subscribe_and_psubscribe_round_trip(redis_server: RedisServer, make_link: Any) -> None:
    inbox = Inbox()
    link = await started(make_link(redis_server.url, on_message=inbox))
    await link.subscribe("socket.io-request#/#")
    await link.psubscribe("socket.io#/#*")
    assert link.publish("socket.io-request#/#", b"\x00req")
    assert link.publish("socket.io#/#room1#", b"\x81\xa1a\x01")
    assert link.publish("unrelated", b"no")
    got = await inbox.wait_for(2)
    assert got == [("socket.io-request#/#", b"\x00req"), ("socket.io#/#room1#", b"\x81\xa1a\x01")]
    await asyncio.sleep(0.1)
    assert len(inbox.got) == 2
    assert await link.numsub("socket.io-request#/#") == 1
    assert link.stats.published == 3 and link.stats.received == 2 and link.stats.dropped == 0


async def test_ten_thousand_publishes_keep_order_in_few_round_trips(
    redis_server: RedisServer, make_link: Any
) -> None:
    inbox = Inbox()
    link = await started(make_link(redis_server.url, on_message=inbox))
    await link.subscribe("c")
    cli(redis_server.port, "CONFIG", "RESETSTAT")
    for i in range(10_000):
        link.publish("c", str(i).encode())
    got = await inbox.wait_for(10_000, timeout=60)
    assert [int(payload) for _, payload in got] == list(range(10_000))
    await until(lambda: link.stats.published == 10_000)  # the last reply may come after its messages
    # batching: far fewer round trips than messages, in the link's count and in Redis's own
    assert link.stats.batches <= 100, link.stats
    stats = cli(redis_server.port, "INFO", "commandstats")
    publish_line = next(line for line in stats.splitlines() if line.startswith("cmdstat_publish:"))
    assert "calls=10000," in publish_line


async def test_restart_resubscribes_once_and_drains_queue_in_order(
    redis_server: RedisServer, make_link: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosio.adapters.redis")
    inbox = Inbox()
    reconnects: list[int] = []
    link = await started(
        make_link(
            redis_server.url, on_message=inbox, max_pending=50, on_reconnect=lambda: reconnects.append(1)
        )
    )
    await link.subscribe("socket.io-request#/#", "socket.io-response#/#")
    await link.psubscribe("socket.io#/#*")
    assert redis_server.numsub("socket.io-request#/#") == 1

    redis_server.kill()
    await until(lambda: not link.connected)
    for i in range(80):  # 30 more than the bound: the 30 oldest go
        assert link.publish("socket.io-request#/#", b"%d" % i)
    assert link.stats.pending == 50 and link.stats.dropped == 30
    await asyncio.sleep(0.5)  # a few reconnect attempts fail meanwhile
    redis_server.start()
    await until(lambda: link.connected)

    got = await inbox.wait_for(50)
    assert [payload for _, payload in got] == [b"%d" % i for i in range(30, 80)]
    assert redis_server.numsub("socket.io-request#/#") == 1
    assert redis_server.numsub("socket.io-response#/#") == 1
    assert cli(redis_server.port, "PUBSUB", "NUMPAT") == "1"
    assert await link.numsub("socket.io-request#/#") == 1
    link.publish("socket.io#/#room#", b"after")
    await inbox.wait_for(51)
    assert inbox.got[-1] == ("socket.io#/#room#", b"after")
    assert link.stats.dropped == 30 and link.stats.outages == 1 and reconnects == [1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    back = [
        r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "back after" in r.getMessage()
    ]
    assert len(back) == 1 and "30 messages dropped" in back[0]


async def test_killed_pubsub_client_resubscribes(redis_server: RedisServer, make_link: Any) -> None:
    """python-socketio #1581: Redis drops the pub/sub client (output buffer limit); it must come back."""
    inbox = Inbox()
    link = await started(make_link(redis_server.url, on_message=inbox))
    await link.subscribe("req")
    assert cli(redis_server.port, "CLIENT", "KILL", "TYPE", "pubsub") == "1"
    await until(lambda: not link.connected)
    # Redis itself is up: the publisher could send at once, but the queue waits for the subscriber,
    # so what the node publishes meanwhile (a request) finds it subscribed to the answers
    for i in range(5):
        link.publish("req", b"%d" % i)
    await inbox.wait_for(5)
    assert [payload for _, payload in inbox.got] == [b"0", b"1", b"2", b"3", b"4"]
    assert redis_server.numsub("req") == 1
    assert link.stats.outages == 1 and link.stats.dropped == 0


async def test_given_client(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    with pytest.raises(ValueError, match="decode_responses"):
        RedisLink(client=aioredis.Redis.from_url(redis_server.url, decode_responses=True), on_message=Inbox())
    client = aioredis.Redis.from_url(redis_server.url)
    inbox = Inbox()
    link = await started(RedisLink(client=client, on_message=inbox))
    try:
        await link.subscribe("c")
        link.publish("c", b"\xff\x00")
        assert await inbox.wait_for(1) == [("c", b"\xff\x00")]
    finally:
        await link.close()
    assert await client.ping()  # the link leaves a client it was given open
    await client.aclose()


async def test_half_dead_subscriber_is_replaced_exactly_once(
    redis_server: RedisServer, make_link: Any
) -> None:
    """python-socketio #826: a connection Redis still counts but that answers nothing. The link's PING
    times out, it reconnects, and the stale connection is closed: NUMSUB stays 1, not 2."""
    inbox = Inbox()
    link = await started(make_link(redis_server.url, on_message=inbox, ping_interval=0.2, ping_timeout=0.5))
    await link.subscribe("req")
    assert redis_server.proc is not None
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        await until(lambda: not link.connected, timeout=5)
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    await until(lambda: link.connected)
    await asyncio.sleep(0.3)  # Redis has read the old connection's close by now
    assert redis_server.numsub("req") == 1
    link.publish("req", b"alive")
    await inbox.wait_for(1)
    assert inbox.got == [("req", b"alive")]


async def test_close_unsubscribes_at_once_and_leaves_no_task(
    redis_server: RedisServer, make_link: Any
) -> None:
    before = asyncio.all_tasks()
    link = await started(make_link(redis_server.url))
    await link.subscribe("req")
    await link.psubscribe("p*")
    assert redis_server.numsub("req") == 1
    await link.close()
    assert redis_server.numsub("req") == 0
    assert cli(redis_server.port, "PUBSUB", "NUMPAT") == "0"
    assert asyncio.all_tasks() - before == set()
    assert not link.connected
    assert link.publish("req", b"late") is False
    await link.close()  # idempotent


async def test_start_returns_while_redis_is_down(redis_server: RedisServer, make_link: Any) -> None:
    inbox = Inbox()
    redis_server.kill()
    link = make_link(redis_server.url, on_message=inbox)
    async with asyncio.timeout(1):
        await link.start()
        await link.subscribe("req")  # held, applied once Redis is there
    assert link.publish("req", b"queued")
    await asyncio.sleep(0.3)
    assert not link.connected
    redis_server.start()
    await until(lambda: link.connected)
    await inbox.wait_for(1)
    assert redis_server.numsub("req") == 1


@pytest.mark.allow_server_errors(r"on_message raised ValueError")
async def test_raising_callback_does_not_stop_reception(
    redis_server: RedisServer, make_link: Any, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[bytes] = []

    def on_message(channel: str, payload: bytes) -> None:
        got.append(payload)
        if payload.startswith(b"bad"):
            raise ValueError(payload)

    link = await started(make_link(redis_server.url, on_message=on_message))
    await link.subscribe("c")
    for payload in (b"bad1", b"ok1", b"bad2", b"ok2"):
        link.publish("c", payload)
    await until(lambda: len(got) == 4)
    assert got == [b"bad1", b"ok1", b"bad2", b"ok2"]
    assert link.stats.callback_errors == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per kind, not per message


async def test_bytes_bound_drops_oldest(redis_server: RedisServer, make_link: Any) -> None:
    link = await started(make_link(redis_server.url, max_pending_bytes=1000))
    redis_server.kill()
    await until(lambda: not link.connected)
    for _ in range(10):
        link.publish("c", b"x" * 199)  # 200 bytes with the channel name
    assert link.stats.pending == 5 and link.stats.pending_bytes == 1000 and link.stats.dropped == 5
    assert link.publish("c", b"x" * 2000) is False  # larger than the whole queue
    assert link.stats.dropped == 6


async def test_sharded_on_standalone_redis(redis_server: RedisServer, make_link: Any) -> None:
    inbox = Inbox()
    link = await started(make_link(redis_server.url, sharded=True, on_message=inbox))
    await link.subscribe("socket.io#/#", "socket.io#/#abc#")
    link.publish("socket.io#/#", b"main")
    link.publish("socket.io#/#abc#", b"own")
    got = await inbox.wait_for(2)
    assert got == [("socket.io#/#", b"main"), ("socket.io#/#abc#", b"own")]
    assert await link.numsub("socket.io#/#") == 1
    assert cli(redis_server.port, "PUBSUB", "NUMSUB", "socket.io#/#").split()[-1] == "0"  # not classic
    with pytest.raises(ValueError):
        await link.psubscribe("x*")
    await link.unsubscribe("socket.io#/#abc#")
    assert await link.numsub("socket.io#/#abc#") == 0
    await link.close()
    assert cli(redis_server.port, "PUBSUB", "SHARDNUMSUB", "socket.io#/#").split()[-1] == "0"


async def test_sharded_on_redis_cluster(redis_cluster: RedisClusterProcs, make_link: Any) -> None:
    before = asyncio.all_tasks()
    inbox = Inbox()
    link = await started(make_link(redis_cluster.url, sharded=True, cluster=True, on_message=inbox))
    channels = [f"socket.io#/ns{i}#" for i in range(12)]
    owners = {link.client.get_node_from_key(ch).name for ch in channels}
    assert len(owners) == 3  # the channels span every master
    await link.subscribe(*channels)
    for ch in channels:
        link.publish(ch, ch.encode())
    got = await inbox.wait_for(len(channels))
    assert sorted(got) == sorted((ch, ch.encode()) for ch in channels)
    for ch in channels:
        assert await link.numsub(ch) == 1  # summed over the masters: held once, on its own master
    other = await started(make_link(redis_cluster.url, sharded=True, cluster=True))
    await other.subscribe(channels[0])
    assert await link.numsub(channels[0]) == 2
    await other.close()
    assert await link.numsub(channels[0]) == 1

    # one master drops its pub/sub clients: that connection comes back with its channels, once each
    for port in redis_cluster.ports:
        cli(port, "CLIENT", "KILL", "TYPE", "pubsub")
    await until(lambda: link.stats.outages == 1 and link.connected)
    for ch in channels:
        assert await link.numsub(ch) == 1
    for ch in channels:
        link.publish(ch, b"again")
    await inbox.wait_for(2 * len(channels))
    assert sorted(ch for ch, payload in inbox.got if payload == b"again") == sorted(channels)

    await link.close()
    for ch in channels[:3]:
        assert await other_count(redis_cluster, ch) == 0
    assert asyncio.all_tasks() - before == set()


async def other_count(cluster: RedisClusterProcs, channel: str) -> int:
    """SHARDNUMSUB of ``channel`` summed over the masters, as redis-cli sees it."""
    return sum(int(cli(port, "PUBSUB", "SHARDNUMSUB", channel).split()[-1]) for port in cluster.ports)


def test_cluster_needs_sharded() -> None:
    with pytest.raises(ValueError):
        RedisLink("redis://127.0.0.1:1", cluster=True, on_message=lambda c, p: None)
