"""The Redis connection layer of the cluster adapters: :class:`RedisLink`.

One link serves one adapter (every namespace). It holds a publisher (the client's pool; one pipelined
round trip per batch) and a subscriber (one dedicated pub/sub connection; on a Redis Cluster one per
master that owns a subscribed shard channel), and it survives Redis going away:

- :meth:`RedisLink.publish` never blocks and never raises. A writer task drains an ordered queue and
  pipelines whatever is queued into one round trip. While Redis is away the queue holds at most
  ``max_pending`` messages and ``max_pending_bytes`` bytes; beyond that the **oldest** are dropped and
  counted (the newest state is worth more to a fan-out than the stalest). A batch whose round trip fails
  is dropped and counted, never resent (cluster broadcasts are at-most-once, and a resent batch could
  reach Redis twice).
- The subscriber reads continuously and calls ``on_message(channel, payload)``. On a connection error, or
  when its periodic PING is not answered in time (a half-dead link that Redis still counts), it closes
  that connection and reconnects with exponential backoff and jitter, then subscribes every channel and
  pattern it holds on the new connection, so each is held exactly once.
- While any subscriber connection is down the queue is held (the answers to what the node publishes
  must find it subscribed), and it drains in order once every connection is back.
- An outage logs one warning when it starts and one info when it ends (how long, how many messages
  were dropped); ``on_reconnect`` is called when it ends, so the adapter can announce itself again.

On a Redis Cluster a shard channel is routed to the master owning its slot when first subscribed;
a slot that later moves to another master is not followed (its reconnects then fail with MOVED).

For the Redis Streams adapter the queue also carries other write commands (:meth:`RedisLink.command`:
XADD, SET, DEL), in order with the publishes, pipelined the same way; a command can hand back its
reply through a future (XADD's entry id). :meth:`RedisLink.read_stream` runs a blocking ``XREAD``
reader on a connection of its own that survives outages: it reconnects with the same backoff and
goes on from the last entry it read, so an outage loses no entry that is still in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["LinkStats", "RedisLink"]

_log = logging.getLogger("aiosio.adapters.redis")

#: first reconnect delay, its cap (seconds); each failed attempt doubles it, times a jitter in [0.5, 1].
BACKOFF_BASE = 0.05
BACKOFF_CAP = 5.0
#: the most messages (and bytes) one pipelined round trip carries.
MAX_BATCH = 1024
MAX_BATCH_BYTES = 1 << 20
_PUBLISHER = "publisher"
_CONFIRMS = {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"}
_MESSAGES = {"message", "pmessage", "smessage"}


@dataclass
class LinkStats:
    """Counters of one :class:`RedisLink` (read them, don't write them)."""

    #: messages Redis accepted (PUBLISH/SPUBLISH answered).
    published: int = 0
    #: messages lost: pushed out of a full queue, in a failed round trip, or published after close.
    dropped: int = 0
    #: messages waiting in the queue now, and their bytes (payload plus channel name).
    pending: int = 0
    pending_bytes: int = 0
    #: pipelined round trips the writer made (``published / batches`` is the batching factor).
    batches: int = 0
    #: outages so far (one per warning logged), and messages delivered to ``on_message``.
    outages: int = 0
    received: int = 0
    #: exceptions raised by ``on_message`` (each kind is logged once).
    callback_errors: int = 0
    #: seconds from the oldest message of the last batch being queued to Redis's answer (the
    #: publish lag), and the longest so far.
    lag: float = 0.0
    max_lag: float = 0.0


def _backoff(attempt: int) -> float:
    """Delay before reconnect attempt ``attempt`` (1, 2, ...): exponential, capped, jittered."""
    delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempt - 1, 16))
    return delay * random.uniform(0.5, 1.0)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _HalfDead(ConnectionError):
    """The pub/sub connection did not answer a PING in time."""


class _Subscriber:
    """One pub/sub connection (to a standalone Redis, or to one master of a cluster) and what it holds.

    The link decides which names live here; this object keeps them subscribed across reconnects.
    """

    def __init__(self, link: RedisLink, name: str, client: Any) -> None:
        self.link = link
        self.name = name
        self.client = client
        #: what must be subscribed on this connection: kind -> names (kind is the subscribe command).
        self.held: dict[str, set[str]] = {"subscribe": set(), "psubscribe": set(), "ssubscribe": set()}
        self.pubsub: Any = None
        self.up = False
        #: set once the first connection came up or failed (never cleared).
        self.tried = asyncio.Event()
        self._waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"aiosio-redis-sub-{name}")

    async def change(self, command: str, names: list[str]) -> None:
        """Send ``command`` (``subscribe``, ``sunsubscribe``, ...) for ``names`` if the connection is
        live, and wait (bounded) for Redis to confirm; when it is not live the reconnect applies
        :attr:`held`, which the caller already updated."""
        if not self.tried.is_set():
            # The first connection is being made (start(), or a new cluster master): wait for it to
            # come up or fail, bounded.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.tried.wait(), self.link.op_timeout)
        if self.pubsub is None or not self.up:
            return
        # Sent even if the connect already subscribed it: a repeat on one connection counts once.
        futures = [self._waiter(command, name) for name in names]
        try:
            for name in names:
                await asyncio.wait_for(getattr(self.pubsub, command)(name), self.link.op_timeout)
            await asyncio.wait_for(asyncio.gather(*futures), self.link.op_timeout)
        except Exception as exc:  # a connection lost meanwhile
            # The reader sees the same failure and reconnects, which applies ``held``.
            _log.debug("redis %s %s on %s not confirmed: %r", command, list(names), self.name, exc)

    def _waiter(self, command: str, name: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((command, name), []).append(future)
        return future

    def _release_waiters(self) -> None:
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect()
                attempt = 0
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection is an outage, never the end
                self.link._component_down(self.name, exc)
            finally:
                self.up = False
                self.tried.set()
                self._release_waiters()
                await self._drop()
            attempt += 1
            await asyncio.sleep(_backoff(attempt))

    async def _connect(self) -> None:
        # A fresh PubSub each time: the old connection is closed (Redis forgets its subscriptions) before
        # the new one subscribes, so no name is ever held twice, nor lost.
        self.pubsub = self.client.pubsub()
        await asyncio.wait_for(self.pubsub.connect(), self.link.op_timeout)
        for command, names in self.held.items():
            for name in sorted(names):  # one name a command: a cluster refuses SSUBSCRIBE across slots
                await asyncio.wait_for(getattr(self.pubsub, command)(name), self.link.op_timeout)

    async def _drop(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), self.link.op_timeout)

    async def _read(self) -> None:
        link = self.link
        loop = asyncio.get_running_loop()
        # The first PONG proves the subscriptions sent before it are in place: only then is this up.
        await asyncio.wait_for(self.pubsub.ping(), link.op_timeout)
        ping_sent: float | None = loop.time()
        last_seen = loop.time()
        while True:
            now = loop.time()
            if ping_sent is not None:
                wait = ping_sent + link.ping_timeout - now
            else:
                wait = last_seen + link.ping_interval - now
            wait = max(0.01, min(wait, 1.0))
            async with asyncio.timeout(wait + link.op_timeout):  # no task per message, unlike wait_for
                message = await self.pubsub.get_message(timeout=wait)
            now = loop.time()
            if message is not None:
                last_seen = now
                kind = _text(message["type"])
                if kind in _MESSAGES:
                    link._deliver(_text(message["channel"]), message["data"])
                elif kind == "pong":
                    ping_sent = None
                    if not self.up:
                        self.up = True
                        self.tried.set()
                        link._component_up(self.name)
                elif kind in _CONFIRMS:
                    for future in self._waiters.pop((kind, _text(message["channel"])), []):
                        if not future.done():
                            future.set_result(None)
                continue
            if ping_sent is not None and now - ping_sent >= link.ping_timeout:
                raise _HalfDead(f"no PONG within {link.ping_timeout:g} s")
            if ping_sent is None and now - last_seen >= link.ping_interval:
                await asyncio.wait_for(self.pubsub.ping(), link.op_timeout)
                ping_sent = now

    async def unsubscribe_all(self) -> None:
        """On close: unsubscribe everything held (so NUMSUB drops at once), bounded in time."""
        undo = {"subscribe": "unsubscribe", "psubscribe": "punsubscribe", "ssubscribe": "sunsubscribe"}
        for command, names in self.held.items():
            if names:
                await self.change(undo[command], sorted(names))
            names.clear()


class RedisLink:
    """One publisher and one subscriber connection to Redis, shared by every namespace of an adapter.

    Give ``url`` (``redis.asyncio.Redis.from_url(url, **redis_options)``; with ``cluster=True``
    ``RedisCluster.from_url``) or a ready ``client`` (a ``redis.asyncio.Redis`` or ``RedisCluster``,
    with ``decode_responses=False``; the link never closes a client it was given). ``sharded=True``
    uses SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH/SHARDNUMSUB (Redis 7+); a Redis Cluster supports only that.

    ``on_message(channel, payload)`` is called for every message received (payload as raw bytes; a
    message matched by a pattern reports its own channel). ``on_reconnect()`` is called when an outage
    ends, after every channel was subscribed again. Neither may be a coroutine; an exception from
    either is logged (once per kind) and never stops the link.

    ``ping_interval``: a pub/sub connection that received nothing for that long is sent a PING;
    ``ping_timeout``: no PONG in that time is an outage (the connection is closed and replaced).
    ``op_timeout`` bounds every single Redis operation.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        on_message: Callable[[str, bytes], None],
        sharded: bool = False,
        cluster: bool = False,
        max_pending: int = 10_000,
        max_pending_bytes: int = 64 * 2**20,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        op_timeout: float = 5.0,
        on_reconnect: Callable[[], None] | None = None,
        logger: logging.Logger | None = None,
        redis_options: Mapping[str, Any] | None = None,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisLink needs exactly one of url= and client=")
        if max_pending < 1 or max_pending_bytes < 1:
            raise ValueError("max_pending and max_pending_bytes must be positive")
        self._owns_client = client is None
        if client is None:
            # The link does its own backoff: redis-py must not retry (a retried pipeline is resent).
            options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": op_timeout}
            options.update(redis_options or {})
            options["decode_responses"] = False
            assert url is not None
            factory: Any = RedisCluster if cluster else aioredis.Redis
            client = factory.from_url(url, **options)
        elif redis_options:
            raise ValueError("redis_options apply to a client the link makes from url=, not to client=")
        self.client: Any = client
        self.cluster = isinstance(client, RedisCluster)
        encoder = client.encoder if self.cluster else client.get_encoder()
        if getattr(encoder, "decode_responses", False):
            raise ValueError("RedisLink needs a client with decode_responses=False (payloads are bytes)")
        if self.cluster and not sharded:
            raise ValueError("a Redis Cluster supports sharded pub/sub only: pass sharded=True")
        self.sharded = sharded
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.op_timeout = op_timeout
        self.log = logger or _log
        self.stats = LinkStats()
        #: (command and arguments, size, future for the reply or None), in order.
        self._queue: deque[tuple[tuple[Any, ...], int, asyncio.Future[Any] | None]] = deque()
        self._readers: list[asyncio.Task[None]] = []
        self._reader_clients: list[Any] = []
        self._wake = asyncio.Event()
        #: set while the queue is empty and no batch is in flight (close() waits for it).
        self._idle = asyncio.Event()
        #: when the oldest message now queued was queued (monotonic), for ``stats.lag``.
        self._queued_since = 0.0
        self._writer: asyncio.Task[None] | None = None
        self._subscribers: dict[str, _Subscriber] = {}
        #: components (publisher, subscriber names) that are not up; the link is connected when empty.
        self._down: set[str] = set()
        self._outage_since: float | None = None
        self._dropped_at_outage = 0
        self._logged_errors: set[str] = set()
        self._started = False
        self._closed = False

    # ---- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer and the subscriber; returns at once, even when Redis is down (the link
        keeps trying, and :attr:`connected` says when it is up)."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("RedisLink is closed")
        self._started = True
        self._down.add(_PUBLISHER)  # proven up by its first PING
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="aiosio-redis-pub")
        if not self.cluster:
            self._subscriber("main")

    async def close(self, drain_timeout: float = 2.0) -> None:
        """Unsubscribe everything (NUMSUB drops at once), let the queue drain for ``drain_timeout``
        seconds at most if Redis is up, then stop every task and close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            if self._owns_client:
                await self._close_client()
            return
        for sub in list(self._subscribers.values()):
            with contextlib.suppress(Exception):
                await sub.unsubscribe_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        # Closed while the first connection is still being made (no outage yet: a short-lived
        # emitter): what it queued gets the drain time to go out too.
        while self._queue and self._down and self._outage_since is None and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if not self._down:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
        await self._stop_readers(loop.time() + self.op_timeout)
        tasks = [sub.task for sub in self._subscribers.values()]
        if self._writer is not None:
            tasks.append(self._writer)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in self._subscribers.values():
            await sub._drop()
            if sub.client is not self.client:  # a cluster master's own pool, made by the link
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sub.client.aclose(), self.op_timeout)
        self._subscribers.clear()
        for reader_client in self._reader_clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader_client.aclose(), self.op_timeout)
        self._reader_clients.clear()
        self._readers.clear()
        lost = len(self._queue)
        for _args, _size, future in self._queue:
            if future is not None and not future.done():
                future.set_exception(ConnectionError("the Redis link is closed"))
        self._queue.clear()
        self.stats.dropped += lost
        self.stats.pending = self.stats.pending_bytes = 0
        if self._owns_client:
            await self._close_client()

    async def _close_client(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.aclose(), self.op_timeout)

    @property
    def connected(self) -> bool:
        """True when the publisher and every subscriber connection are up."""
        return self._started and not self._closed and not self._down

    # ---- subscriptions --------------------------------------------------------------------------

    async def subscribe(self, *channels: str) -> None:
        """Hold ``channels`` (SSUBSCRIBE when sharded) from now on, across reconnects. Returns once
        Redis confirmed them, or at once while Redis is away (the reconnect subscribes them)."""
        await self._change("ssubscribe" if self.sharded else "subscribe", channels, add=True)

    async def unsubscribe(self, *channels: str) -> None:
        """Stop holding ``channels`` (SUNSUBSCRIBE when sharded)."""
        await self._change("ssubscribe" if self.sharded else "subscribe", channels, add=False)

    async def psubscribe(self, *patterns: str) -> None:
        """Hold ``patterns`` (PSUBSCRIBE; not available with sharded pub/sub)."""
        await self._change("psubscribe", patterns, add=True)

    async def punsubscribe(self, *patterns: str) -> None:
        """Stop holding ``patterns``."""
        await self._change("psubscribe", patterns, add=False)

    async def _change(self, kind: str, names: tuple[str, ...], *, add: bool) -> None:
        if not self._started or self._closed:
            raise RuntimeError("RedisLink is not running (start() it first)")
        if kind == "psubscribe" and self.sharded:
            raise ValueError("sharded pub/sub has no patterns")
        groups: dict[str, list[str]] = {}
        for name in dict.fromkeys(names):
            sub = self._route(name, create=add)
            if sub is None:
                continue
            held = sub.held[kind]
            if add and name not in held:
                held.add(name)
                groups.setdefault(sub.name, []).append(name)
            elif not add and name in held:
                held.discard(name)
                groups.setdefault(sub.name, []).append(name)
        command = (
            kind
            if add
            else {"subscribe": "unsubscribe", "psubscribe": "punsubscribe"}.get(kind, "sunsubscribe")
        )
        await asyncio.gather(
            *(self._subscribers[key].change(command, group) for key, group in groups.items())
        )

    def _route(self, name: str, *, create: bool) -> _Subscriber | None:
        """The subscriber that holds ``name``: the only one, or (cluster) the one of its slot's master."""
        if not self.cluster:
            return self._subscribers["main"]
        for sub in self._subscribers.values():
            if any(name in held for held in sub.held.values()):
                return sub
        if not create:
            return None
        node = self.client.get_node_from_key(name)
        existing = self._subscribers.get(node.name)
        if existing is not None:
            return existing
        # Its own pool on that master (the cluster's pools serve the publisher).
        pool = aioredis.ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        return self._subscriber(node.name, aioredis.Redis(connection_pool=pool))

    def _subscriber(self, name: str, client: Any = None) -> _Subscriber:
        sub = _Subscriber(self, name, client if client is not None else self.client)
        self._subscribers[name] = sub
        self._down.add(name)
        return sub

    # ---- publishing -----------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> bool:
        """Queue ``payload`` for ``channel`` (PUBLISH, or SPUBLISH when sharded), in order, without
        blocking or raising. False when it was dropped at once (link closed, or larger than the whole
        queue); a full queue drops its oldest messages instead (counted in ``stats.dropped``)."""
        command = "SPUBLISH" if self.sharded else "PUBLISH"
        return self._enqueue((command, channel, payload), len(payload) + len(channel), None)

    def command(self, *args: Any, reply: bool = False) -> asyncio.Future[Any] | None:
        """Queue a write command (``"XADD", stream, ...``, ``"SET", ...``) in order with the publishes,
        without blocking. With ``reply=True`` returns a future of Redis's reply (it fails with the
        error when the command is refused, dropped from a full queue, lost in a failed round trip or
        the link closes; a future cancelled before the command went out cancels the command).
        Without, returns None and a failure is only counted."""
        future: asyncio.Future[Any] | None = None
        if reply:
            future = asyncio.get_running_loop().create_future()
        size = sum(len(a) if isinstance(a, bytes | str) else 8 for a in args)
        if not self._enqueue(args, size, future) and future is not None and not future.done():
            future.set_exception(ConnectionError("the Redis link dropped the command (closed, or too large)"))
        return future

    def _enqueue(self, args: tuple[Any, ...], size: int, future: asyncio.Future[Any] | None) -> bool:
        stats = self.stats
        if self._closed or size > self.max_pending_bytes:
            stats.dropped += 1
            return False
        queue = self._queue
        if not queue:
            self._queued_since = time.monotonic()
        queue.append((args, size, future))
        stats.pending += 1
        stats.pending_bytes += size
        while stats.pending > self.max_pending or stats.pending_bytes > self.max_pending_bytes:
            _, old, dropped = queue.popleft()
            stats.pending -= 1
            stats.pending_bytes -= old
            stats.dropped += 1
            if dropped is not None and not dropped.done():
                dropped.set_exception(ConnectionError("the Redis link's queue was full: dropped"))
        self._idle.clear()
        self._wake.set()
        return True

    async def _write_loop(self) -> None:
        attempt = 0
        queue = self._queue
        stats = self.stats
        while True:
            if _PUBLISHER in self._down:
                try:
                    # Idle pooled connections may be dead (Redis restarted): the next batch must not
                    # find one. In-use ones (the pub/sub connection shares a standalone pool) stay.
                    await self._drop_idle_connections()
                    await asyncio.wait_for(self.client.ping(), self.op_timeout)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._component_down(_PUBLISHER, exc)
                    attempt += 1
                    await asyncio.sleep(_backoff(attempt))
                    continue
                attempt = 0
                self._component_up(_PUBLISHER)
            if not queue:
                self._idle.set()
            if not queue or self._down:
                # Hold the queue until every subscriber is back too: the answers to what the node
                # publishes (requests) must find it subscribed.
                self._wake.clear()
                await self._wake.wait()
                continue
            batch: list[tuple[tuple[Any, ...], int, asyncio.Future[Any] | None]] = []
            size = taken = 0
            while queue and len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES:
                item = queue.popleft()
                size += item[1]
                taken += 1
                if item[2] is not None and item[2].done():
                    continue  # its caller gave up waiting (cancelled): never sent
                batch.append(item)
            stats.pending -= taken
            stats.pending_bytes -= size
            since = self._queued_since
            if queue:  # the rest waited at least from now (a lower bound, kept cheap)
                self._queued_since = time.monotonic()
            self._idle.clear()
            if not batch:
                continue
            try:
                async with asyncio.timeout(self.op_timeout):
                    if len(batch) == 1:
                        # One message (a broadcast at a time): a plain command costs less than a pipeline.
                        try:
                            replies = [await self.client.execute_command(*batch[0][0])]
                        except aioredis.ResponseError as refused:
                            replies = [refused]
                    else:
                        pipe = (
                            self.client.pipeline(transaction=False)
                            if not self.cluster
                            else self.client.pipeline()
                        )
                        for args, _, _ in batch:
                            pipe.execute_command(*args)
                        replies = await pipe.execute(raise_on_error=False)
            except asyncio.CancelledError:
                stats.dropped += len(batch)
                _fail(batch, ConnectionError("the Redis link is closing"))
                raise
            except Exception as exc:
                stats.dropped += len(batch)
                _fail(batch, ConnectionError(f"the round trip to Redis failed: {exc!r}"))
                self._component_down(_PUBLISHER, exc)
                continue
            failed = 0
            for (_, _, future), reply in zip(batch, replies, strict=False):
                if isinstance(reply, Exception):
                    failed += 1
                    if future is not None and not future.done():
                        future.set_exception(reply)
                elif future is not None and not future.done():
                    future.set_result(reply)
            if failed:  # refused by Redis (not a connection failure): counted, logged once per kind
                stats.dropped += failed
                self._log_once("publish", next(r for r in replies if isinstance(r, Exception)))
            stats.published += len(batch) - failed
            stats.batches += 1
            stats.lag = time.monotonic() - since
            stats.max_lag = max(stats.max_lag, stats.lag)

    async def _drop_idle_connections(self) -> None:
        if self.cluster:
            for node in self.client.get_nodes():
                await node.disconnect_free_connections()
        else:
            await self.client.connection_pool.disconnect(inuse_connections=False)

    # ---- streams ----------------------------------------------------------------------------------

    def read_stream(
        self,
        stream: str,
        on_entries: Callable[[str, list[tuple[bytes, dict[bytes, bytes]]]], Awaitable[None] | None],
        *,
        count: int = 100,
        block_ms: int = 5000,
        on_start: Callable[[str, bytes], None] | None = None,
    ) -> None:
        """Read ``stream`` from now on (``XREAD COUNT count BLOCK block_ms``, from the newest entry at
        the time the reader first connects: ``on_start(stream, id)`` hears which, ``b"0-0"`` for an
        empty stream) on a dedicated connection, calling ``on_entries(stream, [(id, fields), ...])``
        for each batch, in order (when it returns an awaitable, the next XREAD waits for it). After
        an outage it reconnects with backoff and goes on after the
        last entry it read. Stopped by :meth:`close`."""
        if not self._started or self._closed:
            raise RuntimeError("RedisLink is not running (start() it first)")
        if self.cluster:
            node = self.client.get_node_from_key(stream)
            pool = aioredis.ConnectionPool(
                connection_class=node.connection_class, max_connections=1, **node.connection_kwargs
            )
        else:
            kwargs = dict(self.client.connection_pool.connection_kwargs)
            pool = aioredis.ConnectionPool(
                connection_class=self.client.connection_pool.connection_class, max_connections=1, **kwargs
            )
        pool.connection_kwargs["socket_timeout"] = block_ms / 1000 + self.op_timeout
        client = aioredis.Redis(connection_pool=pool)
        self._reader_clients.append(client)
        task = asyncio.get_running_loop().create_task(
            self._read_loop(client, stream, on_entries, count, block_ms, on_start),
            name=f"aiosio-redis-xread-{stream}",
        )
        self._readers.append(task)

    async def _stop_readers(self, deadline: float) -> None:
        # redis-py can lose a cancellation that races with a blocking XREAD's own timeout (the read
        # goes on): cancelled again until it ends, bounded; the loop also checks _closed.
        pending = {task for task in self._readers if not task.done()}
        loop = asyncio.get_running_loop()
        while pending and loop.time() < deadline:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.05)
        for task in self._readers:
            if task.done() and not task.cancelled():
                with contextlib.suppress(Exception):
                    task.result()

    async def _read_loop(
        self,
        client: Any,
        stream: str,
        on_entries: Callable[[str, list[tuple[bytes, dict[bytes, bytes]]]], Awaitable[None] | None],
        count: int,
        block_ms: int,
        on_start: Callable[[str, bytes], None] | None,
    ) -> None:
        last: bytes | None = None
        attempt = 0
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                if last is None:
                    # The newest entry now ("$", resolved once: nothing added after this is missed).
                    newest = await asyncio.wait_for(client.xrevrange(stream, count=1), self.op_timeout)
                    last = newest[0][0] if newest else b"0-0"
                    if on_start is not None:
                        on_start(stream, last)
                reply = await client.xread({stream: last}, count=count, block=block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                if down_since is None:
                    down_since = loop.time()
                    self.log.warning("redis stream reader of %s lost (%r); reconnecting", stream, exc)
                with contextlib.suppress(Exception):
                    await client.connection_pool.disconnect()
                await asyncio.sleep(_backoff(attempt))
                continue
            if down_since is not None:
                self.log.info("redis stream reader of %s back after %.2f s", stream, loop.time() - down_since)
                down_since = None
            attempt = 0
            for _name, entries in reply or ():
                if not entries:
                    continue
                last = entries[-1][0]
                self.stats.received += len(entries)
                try:
                    pending = on_entries(stream, entries)
                    if pending is not None:
                        await pending  # the consumer hands the batch over in its own time
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.stats.callback_errors += 1
                    self._log_once("on_entries", exc)

    async def call(self, *args: Any) -> Any:
        """Run one command now (not queued), bounded by ``op_timeout``; raises the redis-py error."""
        return await asyncio.wait_for(self.client.execute_command(*args), self.op_timeout)

    async def transaction(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run ``commands`` in one MULTI/EXEC (not queued), bounded by ``op_timeout``."""
        pipe = self.client.pipeline(transaction=True)
        for args in commands:
            pipe.execute_command(*args)
        replies: list[Any] = await asyncio.wait_for(pipe.execute(), self.op_timeout)
        return replies

    # ---- server count ---------------------------------------------------------------------------

    async def numsub(self, channel: str) -> int:
        """Subscribers of ``channel`` in Redis's view: PUBSUB NUMSUB, or SHARDNUMSUB when sharded (summed
        over the masters of a cluster). Raises the redis-py error when Redis is away."""
        if self.cluster:
            total = 0
            for node in self.client.get_primaries():
                reply = await asyncio.wait_for(
                    self.client.execute_command("PUBSUB SHARDNUMSUB", channel, target_nodes=node),
                    self.op_timeout,
                )
                total += _count(reply)
            return total
        command = "PUBSUB SHARDNUMSUB" if self.sharded else "PUBSUB NUMSUB"
        return _count(await asyncio.wait_for(self.client.execute_command(command, channel), self.op_timeout))

    # ---- internals ------------------------------------------------------------------------------

    def oldest_pending_age(self) -> float:
        """Seconds the oldest message still queued has waited (0 when none is): unlike
        ``stats.lag``, which changes only when a batch completes, this grows while Redis is slow or
        away. After a partial batch the rest count from then (a lower bound)."""
        return time.monotonic() - self._queued_since if self._queue else 0.0

    def _deliver(self, channel: str, data: bytes) -> None:
        self.stats.received += 1
        try:
            self.on_message(channel, data)
        except Exception as exc:
            self.stats.callback_errors += 1
            self._log_once("on_message", exc)

    def _log_once(self, where: str, exc: Exception) -> None:
        key = f"{where}:{type(exc).__qualname__}"
        if key not in self._logged_errors:
            self._logged_errors.add(key)
            self.log.error(
                "redis link: %s raised %r (further %s errors of this kind are counted, not logged)",
                where,
                exc,
                type(exc).__name__,
                exc_info=exc,
            )

    def _component_down(self, name: str, exc: BaseException) -> None:
        self._down.add(name)
        if name != _PUBLISHER and _PUBLISHER not in self._down:
            # The publisher's connections likely died too: make it prove itself before the next batch.
            self._down.add(_PUBLISHER)
            self._wake.set()
        if self._outage_since is None:
            self._outage_since = asyncio.get_running_loop().time()
            self._dropped_at_outage = self.stats.dropped
            self.stats.outages += 1
            self.log.warning(
                "redis link lost (%s: %r); reconnecting, publishes are queued (at most %d)",
                name,
                exc,
                self.max_pending,
            )
        else:
            self.log.debug("redis link: %s still down (%r)", name, exc)

    def _component_up(self, name: str) -> None:
        self._down.discard(name)
        if self._down:
            return
        self._wake.set()
        if self._outage_since is None:
            return
        took = asyncio.get_running_loop().time() - self._outage_since
        dropped = self.stats.dropped - self._dropped_at_outage
        self._outage_since = None
        self.log.info("redis link back after %.2f s (%d messages dropped meanwhile)", took, dropped)
        if self.on_reconnect is not None:
            try:
                self.on_reconnect()
            except Exception as exc:
                self._log_once("on_reconnect", exc)


def _fail(batch: list[tuple[tuple[Any, ...], int, asyncio.Future[Any] | None]], exc: Exception) -> None:
    for _args, _size, future in batch:
        if future is not None and not future.done():
            future.set_exception(exc)


def _count(reply: Any) -> int:
    """The count out of a NUMSUB/SHARDNUMSUB reply (``[(channel, n)]`` or ``[channel, n]``)."""
    if isinstance(reply, dict):  # a cluster may merge per-node replies
        return sum(_count(value) for value in reply.values())
    if isinstance(reply, list | tuple) and reply:
        first = reply[0]
        if isinstance(first, list | tuple):
            return int(first[1])
        return int(reply[1])
    return 0
