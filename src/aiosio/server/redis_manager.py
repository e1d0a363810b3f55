"""``AsyncRedisManager``: python-socketio's Redis client manager, speaking the wire format of Node's
official Redis adapters, so aiosio and Node socket.io servers form one cluster.

It cannot share a cluster with python-socketio nodes (their format is python-socketio's own);
docs/migration.md says why.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from ..adapters.cluster import DEFAULT_REQUEST_TIMEOUT, ClusterAdapter
from ..adapters.redis.classic import ClassicDriver
from ..adapters.redis.emitter import RedisEmitter
from ..adapters.redis.sharded import ShardedDriver
from ..adapters.redis.streams import StreamsDriver
from ..protocol.cluster import SubscriptionMode
from .emitting import Emitting
from .manager import AsyncManager


class AsyncRedisManager(AsyncManager):
    """Rooms and broadcasts across every server sharing one Redis (``client_manager=``).

    ``url`` and ``redis_options`` go to redis-py (``redis.asyncio.Redis.from_url``). ``channel`` is
    the channel prefix shared by the cluster (Node's ``key``, ``"socket.io"`` there too).
    ``request_timeout`` bounds how long cluster queries wait for other servers (Node's
    ``requestsTimeout``). ``publish_on_specific_response_channel`` is Node's option of that name.

    ``mode='sharded'`` speaks the wire of Node's ``createShardedAdapter`` instead (Redis 7 sharded
    pub/sub; ``channel`` is its ``channelPrefix``): ``subscription_mode`` is Node's
    ``subscriptionMode`` (``'static'``, ``'dynamic'`` or ``'dynamic-private'``, the same on every
    node), and ``cluster=True`` connects to a Redis Cluster (redis-py's ``RedisCluster``; ``url``
    names any of its nodes). A Redis Cluster needs ``mode='sharded'``.

    ``mode='streams'`` speaks the wire of Node's ``@socket.io/redis-streams-adapter`` 0.3.x (a
    broadcast is a Redis stream entry; requests and answers go on pub/sub; ``channel`` is its
    ``channelPrefix``), the one cluster on which ``connection_state_recovery`` works: sessions and
    missed packets are read from Redis by whichever node the client comes back to, Node's too.
    Node's stream options are keywords: ``stream_name`` ('socket.io'), ``stream_count`` (1),
    ``max_len`` (10000), ``read_count`` (100), ``block_time_ms`` (5000), ``session_key_prefix``
    ('sio:session:'), ``only_plaintext`` (False), ``use_sharded_pubsub`` (False; with
    ``cluster=True`` for a Redis Cluster). See docs/scaling.md and docs/recovery.md.

    ``write_only=True`` makes a manager for a process that is not a server (python-socketio's use):
    it only publishes, through a :class:`~aiosio.RedisEmitter`, and is never counted as a server;
    call its ``emit``, ``enter_room``, ``leave_room``, ``close_room`` and ``disconnect``.
    """

    _library_manager = True

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: logging.Logger | None = None,
        json: Any = None,
        redis_options: dict[str, Any] | None = None,
        *,
        mode: Literal["classic", "sharded", "streams"] = "classic",
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        publish_on_specific_response_channel: bool = False,
        subscription_mode: SubscriptionMode = "dynamic",
        cluster: bool = False,
        stream_name: str = "socket.io",
        stream_count: int = 1,
        max_len: int = 10_000,
        read_count: int = 100,
        block_time_ms: int = 5000,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        use_sharded_pubsub: bool = False,
    ) -> None:
        super().__init__()
        if mode not in ("classic", "sharded", "streams"):
            raise ValueError(f"unknown Redis adapter mode {mode!r}: use 'classic', 'sharded' or 'streams'")
        if cluster and mode == "classic":
            raise ValueError("a Redis Cluster (cluster=True) needs mode='sharded' or mode='streams'")
        if write_only and mode != "classic":
            raise ValueError("write_only publishes in the emitter's format, which is the classic mode's")
        self.url = url
        self.channel = channel
        self.write_only = write_only
        self.logger = logger
        #: Accepted for python-socketio compatibility; the wire is Node's, encoded as Node encodes it.
        self.json = json
        self.emitter: RedisEmitter | None = None
        if write_only:
            self.emitter = RedisEmitter(url, channel, redis_options=redis_options, logger=logger)
            return
        driver: ClassicDriver | ShardedDriver | StreamsDriver
        if mode == "streams":
            driver = StreamsDriver(
                url,
                stream_name=stream_name,
                stream_count=stream_count,
                channel_prefix=channel,
                use_sharded_pubsub=use_sharded_pubsub or cluster,
                max_len=max_len,
                read_count=read_count,
                block_time_ms=block_time_ms,
                session_key_prefix=session_key_prefix,
                only_plaintext=only_plaintext,
                cluster=cluster,
                redis_options=redis_options,
                logger=logger,
            )
        elif mode == "sharded":
            driver = ShardedDriver(
                url,
                channel_prefix=channel,
                subscription_mode=subscription_mode,
                cluster=cluster,
                redis_options=redis_options,
                logger=logger,
            )
        else:
            driver = ClassicDriver(
                url,
                key=channel,
                redis_options=redis_options,
                publish_on_specific_response_channel=publish_on_specific_response_channel,
                logger=logger,
            )
        self.adapter = ClusterAdapter(driver, request_timeout, logger)

    # python-socketio's manager methods, with its defaults. On a server they act cluster-wide through
    # the adapter (the base class's); a write-only manager publishes them instead.

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit to a sid, a room, several rooms or a whole namespace of every server."""
        if self.emitter is None:
            await super().emit(
                event,
                data,
                namespace or "/",
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        if callback is not None:
            raise ValueError("a write_only manager cannot receive acks (callback is not supported)")
        await self.emitter.emit(
            event,
            *Emitting._args(data),
            to=to if to is not None else room,
            skip_sid=skip_sid,
            namespace=namespace,
            volatile=bool(kwargs.get("volatile", False)),
        )

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        """Put a client of any server in a room."""
        if self.emitter is None:
            await super().enter_room(sid, namespace, room, eio_sid)
        else:
            await self.emitter.sockets_join(room, to=sid, namespace=namespace)

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Take a client of any server out of a room."""
        if self.emitter is None:
            await super().leave_room(sid, namespace, room)
        else:
            await self.emitter.sockets_leave(room, to=sid, namespace=namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client of every server out of a room."""
        if self.emitter is None:
            await super().close_room(room, namespace or "/")
        else:
            await self.emitter.sockets_leave(room, to=room, namespace=namespace)

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """On a server: ``sid`` left (python-socketio's bookkeeping call). Write-only: disconnect
        that client, wherever it is connected."""
        if self.emitter is None:
            await super().disconnect(sid, namespace, **kwargs)
        else:
            await self.emitter.disconnect_sockets(to=sid, namespace=namespace)

    async def close(self) -> None:
        """Close a write-only manager's connection (after what it published went out)."""
        if self.emitter is not None:
            await self.emitter.close()
