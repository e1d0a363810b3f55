"""The sharded Redis driver: the wire of ``@socket.io/redis-adapter`` 8.x ``createShardedAdapter``
(Redis 7 sharded pub/sub, socket.io-adapter's ClusterAdapter messages), so aiosio nodes and Node
socket.io nodes share one cluster, on a standalone Redis 7 or on a Redis Cluster.

Per namespace it holds ``SSUBSCRIBE {prefix}#{nsp}#`` (every request and broadcast; ``PUBSUB
SHARDNUMSUB`` of it is the server count) and ``{prefix}#{nsp}#{uid}#`` (the answers to this node).
In the ``dynamic`` subscription mode it also holds ``{prefix}#{nsp}#{room}#`` while a public room
has a member here (a single-room broadcast is published there, so a node decodes only broadcasts
for rooms it has); in ``dynamic-private`` the same for every room, a socket's own sid room too; in
``static`` none. Every node of a cluster must use the same mode. See CLUSTER-WIRE.md §2 and §3.

Room subscriptions follow the rooms in order, in the background (as Node's do): a broadcast to a
room another node sends right after a socket joined it here may arrive before the subscription is in
place. :meth:`ShardedDriver.settle` waits until they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from ...protocol.cluster import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ClusterMessage,
    ShardedChannels,
    SubscriptionMode,
    decode_cluster,
    hex_uid,
)
from ..message_driver import MessageDriver
from ..wire import DropLog
from ._link import RedisLink

if TYPE_CHECKING:
    from ..cluster import ClusterAdapter

default_logger = logging.getLogger("aiosio.adapters.redis")

_MODES = ("static", "dynamic", "dynamic-private")
#: What a subscribed channel is for: the namespace's main channel, this node's answers, or a room.
_MAIN, _OWN, _ROOM = "main", "own", "room"


class ShardedDriver(MessageDriver):
    """A :class:`~aiosio.adapters.cluster.ClusterDriver` speaking the sharded redis-adapter wire.

    ``channel_prefix`` and ``subscription_mode`` (``static`` | ``dynamic`` | ``dynamic-private``)
    are Node's options of those names, with Node's defaults. ``url`` (and ``redis_options``) make a
    :class:`~aiosio.adapters.redis._link.RedisLink`; ``cluster=True`` connects to a Redis Cluster
    (redis-py's ``RedisCluster``, any of its nodes in ``url``). Or pass a sharded ``link``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        channel_prefix: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        cluster: bool = False,
        link: RedisLink | None = None,
        redis_options: dict[str, Any] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        logger: logging.Logger | None = None,
    ) -> None:
        if subscription_mode not in _MODES:
            raise ValueError(
                f"subscription_mode must be one of {', '.join(_MODES)}, not {subscription_mode!r}"
            )
        self.uid = hex_uid()
        self.prefix = channel_prefix
        self.mode: SubscriptionMode = subscription_mode
        self.logger = logger or default_logger
        if link is None:
            link = RedisLink(
                url,
                on_message=self._on_message,
                sharded=True,
                cluster=cluster,
                redis_options=redis_options,
                logger=self.logger,
            )
        elif not link.sharded:
            raise ValueError("the sharded driver needs a RedisLink made with sharded=True")
        else:
            link.on_message = self._on_message
        self.link = link
        self.max_message_bytes = max_message_bytes
        self._adapter: ClusterAdapter | None = None
        self._channels: dict[str, ShardedChannels] = {}
        #: namespaces whose main and own channels are subscribed.
        self._opened: set[str] = set()
        #: subscribed (or being subscribed) channel -> (namespace, what it is for).
        self._routes: dict[str, tuple[str, str]] = {}
        #: room channel -> True (subscribe) / False (unsubscribe), not sent yet, in order.
        self._room_changes: dict[str, bool] = {}
        self._room_wake = asyncio.Event()
        self._room_idle = asyncio.Event()
        self._room_idle.set()
        self._room_task: asyncio.Task[None] | None = None
        #: the batch of room (un)subscriptions being applied (never cancelled: see _follow_rooms).
        self._room_batch: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = DropLog(self.logger)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, adapter: ClusterAdapter) -> None:
        """Start the link (on a Redis Cluster, load its slot map: raises if no node answers);
        ``adapter`` receives from now on."""
        self._adapter = adapter
        await self.link.start()
        if self.link.cluster:
            # The link routes each channel to the master owning its slot: the slot map must be
            # loaded before the first subscription (redis-py loads it on first use otherwise).
            await asyncio.wait_for(self.link.client.initialize(), self.link.op_timeout)
        if self._room_task is None:
            self._room_task = asyncio.get_running_loop().create_task(
                self._follow_rooms(), name="aiosio-redis-rooms"
            )
            if self._room_changes:
                self._room_wake.set()

    async def close(self) -> None:
        """Unsubscribe everything and close the link."""
        self._closed = True
        task, self._room_task = self._room_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._room_changes.clear()
        self._room_idle.set()
        await self.link.close()
        batch, self._room_batch = self._room_batch, None
        if batch is not None and not batch.done():
            # The closed link released what it was waiting for: this ends at once.
            await asyncio.wait({batch}, timeout=self.link.op_timeout)

    async def open_namespace(self, namespace: str) -> None:
        """SSUBSCRIBE the namespace's main and own channels (once: SHARDNUMSUB counts this node
        once). A failed attempt (a Redis Cluster whose slot map cannot be read) can be made again."""
        if namespace in self._opened:
            return
        ch = self._channels.setdefault(namespace, ShardedChannels(self.prefix, namespace, self.uid))
        self._routes[ch.main] = (namespace, _MAIN)
        self._routes[ch.own] = (namespace, _OWN)
        await self.link.subscribe(ch.main, ch.own)
        self._opened.add(namespace)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) until every room (un)subscription asked so far was
        sent and confirmed by Redis (or Redis is away and the reconnect will apply it)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._room_idle.is_set() or self._room_changes:
                    await self._room_idle.wait()
                    await asyncio.sleep(0)

    def new_request_id(self) -> str:
        """Node's 16-hex request ids."""
        return hex_uid()

    async def server_count(self, namespace: str) -> int:
        """``PUBSUB SHARDNUMSUB`` of the namespace's main channel (summed over the masters of a
        cluster; at least 1: this server)."""
        return max(1, await self.link.numsub(self._ch(namespace).main))

    def _ch(self, namespace: str) -> ShardedChannels:
        ch = self._channels.get(namespace)
        if ch is None:
            # A namespace this node does not serve (yet): same names, no subscription.
            ch = ShardedChannels(self.prefix, namespace, self.uid)
        return ch

    # -- outbound (the operations themselves: MessageDriver) -----------------------------------

    def _publish(self, message: ClusterMessage, payload: bytes) -> None:
        self.link.publish(self._ch(message.nsp).channel_for(message, self.mode), payload)

    def _respond(self, origin: str, namespace: str, payload: bytes) -> None:
        self.link.publish(self._ch(namespace).response_for(origin), payload)

    # -- room channels ------------------------------------------------------------------------

    def _subscribes(self, namespace: str, room: str) -> bool:
        # Node's shouldUseASeparateNamespace: every room in dynamic-private, rooms that are not a
        # local socket's sid in dynamic, none in static.
        if self.mode == "static":
            return False
        if self.mode == "dynamic-private":
            return True
        adapter = self._adapter
        return adapter is None or not adapter.is_sid_room(namespace, room)

    def room_created(self, namespace: str, room: str) -> None:
        """SSUBSCRIBE the room's channel if the mode says so (in the background, in order)."""
        if not self._subscribes(namespace, room):
            return
        channel = self._ch(namespace).room(room)
        route = self._routes.get(channel)
        if route is not None and route[1] != _ROOM:
            return  # a room named like a namespace's own channel: never subscribed twice
        self._routes[channel] = (namespace, _ROOM)
        self._change_room(channel, True)

    def room_deleted(self, namespace: str, room: str) -> None:
        """SUNSUBSCRIBE the room's channel if it was subscribed."""
        channel = self._ch(namespace).room(room)
        route = self._routes.get(channel)
        if route is None or route[1] != _ROOM:
            return
        del self._routes[channel]
        self._change_room(channel, False)

    def _change_room(self, channel: str, subscribe: bool) -> None:
        if self._closed:
            return  # the sockets leaving at shutdown: the closed link holds nothing any more
        self._room_changes.pop(channel, None)  # the latest wish goes last
        self._room_changes[channel] = subscribe
        self._room_idle.clear()
        self._room_wake.set()

    async def _follow_rooms(self) -> None:
        """Apply the room (un)subscriptions in batches, in order, one batch at a time."""
        while True:
            if not self._room_changes:
                self._room_idle.set()
                self._room_wake.clear()
                await self._room_wake.wait()
                continue
            self._room_idle.clear()
            changes, self._room_changes = self._room_changes, {}
            subscribe = [ch for ch, on in changes.items() if on]
            unsubscribe = [ch for ch, on in changes.items() if not on]
            # A batch runs on its own and is never cancelled (close() cancels this loop): a
            # cancelled wait for Redis's confirmations would leave asyncio futures unretrieved.
            batch = self._room_batch = asyncio.ensure_future(self._apply_rooms(subscribe, unsubscribe))
            await asyncio.shield(batch)

    async def _apply_rooms(self, subscribe: list[str], unsubscribe: list[str]) -> None:
        try:
            if unsubscribe:
                await self.link.unsubscribe(*unsubscribe)
            if subscribe:
                await self.link.subscribe(*subscribe)
        except Exception:  # the link is closing: nothing left to follow
            self.logger.debug("room subscription change failed", exc_info=True)

    # -- inbound -----------------------------------------------------------------------------

    def _on_message(self, channel: str, payload: bytes) -> None:
        adapter = self._adapter
        route = self._routes.get(channel)
        if adapter is None or route is None:
            return
        namespace, kind = route
        self._receive_on(adapter, channel, namespace, kind == _OWN, payload)

    def _decode(self, payload: bytes) -> ClusterMessage:
        return decode_cluster(payload, self.max_message_bytes)
