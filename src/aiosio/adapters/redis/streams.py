"""The Redis Streams driver: the wire of ``@socket.io/redis-streams-adapter`` 0.3.1, so aiosio nodes
and Node socket.io nodes share one cluster, with connection-state recovery across all of them.

- Persistent messages (a broadcast without acks, socketsJoin/Leave, disconnectSockets) are stream
  entries: ``XADD <stream> MAXLEN ~ <max_len> * uid … nsp … type … [data …]``, queued and pipelined
  in order by the :class:`~aiosio.adapters.redis._link.RedisLink`. Every node reads each stream
  with ``XREAD COUNT <read_count> BLOCK <block_time_ms>`` on a connection of its own (one per
  stream), from the newest entry when it starts, and after an outage from the last entry it read.
- Ephemeral messages (ack broadcasts, server-side emits, fetches) and every answer are msgpack on
  pub/sub, ``{prefix}#{nsp}#`` and ``{prefix}#{nsp}#{uid}#`` (SUBSCRIBE, or SSUBSCRIBE with
  ``use_sharded_pubsub``); the server count is NUMSUB (SHARDNUMSUB) of the first.

It is a :class:`~aiosio.adapters.cluster.LoggedDriver`: with ``connection_state_recovery`` on, a
broadcast's local delivery waits for its XADD and carries the entry id as its offset, as Node's
does, and it follows the stream's order: the emit waits (bounded) until this node's reader reached
its entry, having handed over every entry before it, and is delivered there (see
:meth:`StreamsDriver.broadcast_logged`). :meth:`StreamsDriver.recovery_store` is the
:class:`~aiosio.recovery.redis_streams.RedisStreamsStore` reading sessions and missed packets
from the stream. See CLUSTER-WIRE.md §4 and §7.4, docs/scaling.md and docs/recovery.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...protocol.cluster import (
    DEFAULT_MAX_MESSAGE_BYTES,
    HEARTBEAT_TYPES,
    ClusterBroadcast,
    ClusterMessage,
    ClusterMessageError,
    WirePacket,
    decode_entry,
    decode_ephemeral,
    delivered_later,
    encode_entry,
    encode_ephemeral,
    hex_uid,
    is_ephemeral,
    stream_id_key,
    stream_name,
    stream_names,
)
from ..base import Selector
from ..message_driver import MessageDriver
from ..wire import DropLog, to_opts, to_selector
from ._link import RedisLink

if TYPE_CHECKING:
    from ...protocol.frames import Frame
    from ...recovery.options import RecoveryOptions
    from ...recovery.redis_streams import RedisStreamsStore
    from ..cluster import ClusterAdapter

default_logger = logging.getLogger("aiosio.adapters.redis")

#: How long a broadcast's local delivery waits for its XADD (with recovery on) before the emit
#: raises: a Redis that is away does not hang emitters forever.
DEFAULT_LOG_TIMEOUT = 5.0
#: How much longer than ``log_timeout`` the reader waits for an emitter to claim its own entry
#: (an emitter gives up first, so the reader then delivers the entry itself).
_CLAIM_MARGIN = 1.0
_MAIN, _OWN = "main", "own"
_ZERO = (0, 0)
_Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass
class _Claim:
    """An own broadcast appended with id ``key`` whose emitter waits to deliver it locally when the
    reader reaches it: ``reached`` (reader to emitter), then ``handed`` (emitter to reader: True when
    the emitter delivers it, in the same step; False when the reader must)."""

    reached: asyncio.Future[None]
    handed: asyncio.Future[bool]
    key: tuple[int, int] = field(default=_ZERO)


class StreamsDriver(MessageDriver):
    """A :class:`~aiosio.adapters.cluster.ClusterDriver` (and ``LoggedDriver``) speaking the Redis
    Streams adapter's wire. The options are Node's, in snake_case, with Node's defaults:
    ``stream_name``, ``stream_count``, ``channel_prefix``, ``use_sharded_pubsub``, ``max_len``,
    ``read_count``, ``block_time_ms``, ``session_key_prefix``, ``only_plaintext``.

    ``url`` and ``redis_options`` make the :class:`~aiosio.adapters.redis._link.RedisLink`
    (``cluster=True``: a Redis Cluster, with ``use_sharded_pubsub``); or pass a ``link``.
    ``log_timeout`` bounds how long an emit waits for its XADD when recovery is on.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        stream_name: str = "socket.io",
        stream_count: int = 1,
        channel_prefix: str = "socket.io",
        use_sharded_pubsub: bool = False,
        max_len: int = 10_000,
        read_count: int = 100,
        block_time_ms: int = 5000,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        cluster: bool = False,
        link: RedisLink | None = None,
        redis_options: dict[str, Any] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        log_timeout: float = DEFAULT_LOG_TIMEOUT,
        logger: logging.Logger | None = None,
    ) -> None:
        if stream_count < 1:
            raise ValueError("stream_count must be at least 1")
        if max_len < 1 or read_count < 1 or block_time_ms < 1:
            raise ValueError("max_len, read_count and block_time_ms must be positive")
        if cluster and not use_sharded_pubsub:
            raise ValueError("a Redis Cluster (cluster=True) needs use_sharded_pubsub=True")
        self.uid = hex_uid()
        self._uid_bytes = self.uid.encode()
        self.stream_name = stream_name
        self.stream_count = stream_count
        self.prefix = channel_prefix
        self.max_len = max_len
        self.read_count = read_count
        self.block_time_ms = block_time_ms
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        self.max_message_bytes = max_message_bytes
        self.log_timeout = log_timeout
        self.logger = logger or default_logger
        if link is None:
            link = RedisLink(
                url,
                on_message=self._on_message,
                sharded=use_sharded_pubsub,
                cluster=cluster,
                redis_options=redis_options,
                logger=self.logger,
            )
        else:
            link.on_message = self._on_message
        self.link = link
        self.adapter: ClusterAdapter | None = None
        self._opened: set[str] = set()
        #: namespaces whose stream entries are handed over (from the start of their opening).
        self._delivering: set[str] = set()
        #: subscribed channel -> (namespace, what it is for).
        self._routes: dict[str, tuple[str, str]] = {}
        #: streams read, and per stream the newest entry delivered here, in the stream's order
        #: (``(ms, seq)``): the reader's (dispatched or skipped), own entries as their emit
        #: delivers them; and where the reader started.
        self._reading: set[str] = set()
        self.read_position: dict[str, tuple[int, int]] = {}
        self._start_position: dict[str, tuple[int, int]] = {}
        self._read_waiters: list[tuple[str, tuple[int, int], asyncio.Future[None]]] = []
        #: per stream: own logged broadcasts whose XADD has not answered yet, and those appended
        #: (entry id key -> claim) whose emitter waits for the reader to reach them.
        self._inflight: dict[str, int] = {}
        self._claims: dict[str, dict[tuple[int, int], _Claim]] = {}
        self._claim_waiters: list[asyncio.Future[None]] = []
        self._heartbeats_seen = False
        self.store: RedisStreamsStore | None = None
        self.dropped = DropLog(self.logger)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, adapter: ClusterAdapter) -> None:
        """Start the link and one reader per stream (Node's set: ``stream_name`` or
        ``stream_name-0`` … ``-{count-1}``); ``adapter`` receives from now on."""
        self.adapter = adapter
        await self.link.start()
        if self.link.cluster:
            await asyncio.wait_for(self.link.client.initialize(), self.link.op_timeout)
        for stream in stream_names(self.stream_name, self.stream_count):
            self.read(stream)
        if self.store is not None:
            self.store.start()

    def read(self, stream: str) -> None:
        """Read ``stream`` from now on, if this node does not yet (one reader per stream)."""
        if stream in self._reading or self.adapter is None:
            return
        self._reading.add(stream)
        self.link.read_stream(
            stream,
            self._on_entries,
            count=self.read_count,
            block_ms=self.block_time_ms,
            on_start=self._on_reader_start,
        )

    def _on_reader_start(self, stream: str, newest: bytes) -> None:
        try:
            key = stream_id_key(newest.decode())
        except ValueError:
            return
        self._start_position[stream] = key
        if key >= self.read_position.get(stream, _ZERO):
            self.read_position[stream] = key
        for claim_key, claim in self._claims.get(stream, {}).items():
            if claim_key <= key and not claim.reached.done():
                claim.reached.set_result(None)  # before the reader's start: never read here
        self._wake_readers(stream)

    async def close(self) -> None:
        """Stop the store's refresh, unsubscribe, stop the readers and close the link."""
        if self.store is not None:
            await self.store.close()
        await self.link.close()
        for _stream, _key, future in self._read_waiters:
            if not future.done():
                future.cancel()
        self._read_waiters.clear()
        for claims in self._claims.values():
            for claim in claims.values():
                if not claim.reached.done():
                    claim.reached.set_exception(ConnectionError("the Redis link is closed"))

    async def open_namespace(self, namespace: str) -> None:
        """SUBSCRIBE the namespace's public and own channels (once: NUMSUB counts this node once),
        and read its stream (even one Node's nodes do not read: a negative hash)."""
        if namespace in self._opened:
            return
        main, own = self.main_channel(namespace), self._own_channel(namespace)
        self._routes[main] = (namespace, _MAIN)
        self._routes[own] = (namespace, _OWN)
        # Its stream entries are handed over from now on (its sockets may be here already), not
        # only once the SUBSCRIBE round trip is over.
        self._delivering.add(namespace)
        self.read(self.stream_of(namespace))
        await self.link.subscribe(main, own)
        self._opened.add(namespace)

    def new_request_id(self) -> str:
        """Node's 16-hex request ids."""
        return hex_uid()

    async def server_count(self, namespace: str) -> int:
        """``PUBSUB NUMSUB`` (``SHARDNUMSUB``) of the namespace's public channel (at least 1)."""
        return max(1, await self.link.numsub(self.main_channel(namespace)))

    # -- names -----------------------------------------------------------------------------------

    def stream_of(self, namespace: str) -> str:
        """The stream of ``namespace``'s persistent messages."""
        return stream_name(namespace, self.stream_name, self.stream_count)

    def main_channel(self, namespace: str) -> str:
        """``{prefix}#{nsp}#``."""
        return f"{self.prefix}#{namespace}#"

    def _own_channel(self, namespace: str) -> str:
        return f"{self.prefix}#{namespace}#{self.uid}#"

    # -- outbound ---------------------------------------------------------------------------------

    def _send(self, message: ClusterMessage) -> None:
        if is_ephemeral(message):
            self.link.publish(self.main_channel(message.nsp), encode_ephemeral(message))
        else:
            self._xadd(message, reply=False)

    def _encode(self, message: ClusterMessage) -> bytes:
        return encode_ephemeral(message)

    def _respond(self, origin: str, namespace: str, payload: bytes) -> None:
        self.link.publish(f"{self.prefix}#{namespace}#{origin}#", payload)

    def _xadd(self, message: ClusterMessage, *, reply: bool) -> asyncio.Future[Any] | None:
        fields = encode_entry(message, self.only_plaintext)
        args: list[Any] = ["XADD", self.stream_of(message.nsp), "MAXLEN", "~", self.max_len, "*"]
        for name, value in fields:
            args.extend((name, value))
        return self.link.command(*args, reply=reply)

    async def broadcast_logged(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector
    ) -> str | None:
        """XADD the broadcast and return its entry id (None for a volatile one, not waited for),
        once this node's reader reached the entry: every entry before it was handed over here, so
        the local delivery (the adapter's, as this returns) follows the stream's order, and
        :meth:`position` never passes an entry not delivered here yet.

        Raises :class:`ConnectionError` when Redis did not answer the XADD within ``log_timeout``
        (one never sent is never appended; one in flight may be, and then every node delivers it,
        this one too, from its reader), or when the reader did not reach the entry in that time
        (it is delivered here when the reader gets there)."""
        message = ClusterBroadcast(
            self.uid, namespace, WirePacket(namespace, [event, *args]), to_opts(selector)
        )
        if selector.volatile:
            self._xadd(message, reply=False)
            return None
        stream = self.stream_of(namespace)
        self.read(stream)
        future = self._xadd(message, reply=True)
        assert future is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.log_timeout
        self._inflight[stream] = self._inflight.get(stream, 0) + 1
        try:
            async with asyncio.timeout_at(deadline):
                # Cancelled (by the timeout, or the caller) before it went out: never sent.
                reply = await future
        except TimeoutError:
            raise ConnectionError(
                f"Redis did not confirm the broadcast within {self.log_timeout:g} s (if it was "
                "appended, every node delivers it, this one from its reader)"
            ) from None
        finally:
            self._inflight[stream] -= 1
            self._wake_claim_waiters()
        offset = reply.decode() if isinstance(reply, bytes) else str(reply)
        key = stream_id_key(offset)
        if key <= self.read_position.get(stream, _ZERO):
            if key <= self._start_position.get(stream, _ZERO):
                return offset  # before the reader's start: it never reads it, delivered now
            raise ConnectionError(f"the broadcast {offset} was delivered here by the reader already")
        claim = _Claim(loop.create_future(), loop.create_future(), key)
        claims = self._claims.setdefault(stream, {})
        claims[key] = claim
        self._wake_claim_waiters()
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    await claim.reached
            except TimeoutError:
                raise ConnectionError(
                    f"the broadcast was appended as {offset}, but this node's reader did not reach "
                    f"it within {self.log_timeout:g} s; it is delivered here when the reader does"
                ) from None
        except BaseException:
            if not claim.handed.done():
                claim.handed.set_result(False)  # the reader delivers it
            raise
        finally:
            if claims.get(key) is claim:
                del claims[key]
        if claim.handed.done():  # the reader gave up waiting and delivered it
            raise ConnectionError(f"the broadcast {offset} was delivered here by the reader already")
        if key > self.read_position.get(stream, _ZERO):
            self.read_position[stream] = key
        # The adapter delivers it as this returns, in this step: before the reader goes on.
        claim.handed.set_result(True)
        self._wake_readers(stream)
        return offset

    def recovery_store(self, options: RecoveryOptions, delivery_window: float) -> RedisStreamsStore:
        """The :class:`~aiosio.recovery.redis_streams.RedisStreamsStore` of this driver (made once)."""
        from ...recovery.redis_streams import RedisStreamsStore

        if self.store is None:
            self.store = RedisStreamsStore(self, options, delivery_window)
        return self.store

    def room_created(self, namespace: str, room: str) -> None:
        """Nothing: the streams wire has no room channels."""

    def room_deleted(self, namespace: str, room: str) -> None:
        """Nothing: the streams wire has no room channels."""

    # -- what the recovery store needs ----------------------------------------------------------------

    def encode_event(self, namespace: str, event: str, args: tuple[Any, ...]) -> list[Frame]:
        """The frames of an EVENT for this server's clients (the server's encoder)."""
        adapter = self.adapter
        if adapter is None:
            raise RuntimeError("the driver is not started")
        frames: list[Frame] = list(adapter._encoder()(namespace, event, args, None))
        return frames

    def position(self, stream: str) -> tuple[int, int]:
        """The newest entry of ``stream`` delivered here: every entry up to it was delivered (or
        skipped) here, in the stream's order, and every later one is delivered later."""
        return self.read_position.get(stream, _ZERO)

    async def wait_read(self, stream: str, key: tuple[int, int], timeout: float) -> bool:
        """Wait until the reader of ``stream`` handed over the entry ``key`` (or a later one); False
        after ``timeout`` seconds."""
        if self.read_position.get(stream, _ZERO) >= key:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (stream, key, future)
        self._read_waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if waiter in self._read_waiters:
                self._read_waiters.remove(waiter)

    # -- inbound ---------------------------------------------------------------------------------

    def _on_entries(self, stream: str, entries: _Entries) -> Coroutine[Any, Any, None] | None:
        """Hand over a batch the reader read, in order; a coroutine (which the reader awaits) when
        an own entry is on the way, to be delivered by its emitter at its place in the order."""
        return self._hand_over(stream, entries, 0)

    def _hand_over(self, stream: str, entries: _Entries, index: int) -> Coroutine[Any, Any, None] | None:
        adapter = self.adapter
        own = self._uid_bytes
        for i in range(index, len(entries)):
            raw_id, fields = entries[i]
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            try:
                key = stream_id_key(entry_id)
            except ValueError:
                self.dropped(stream, f"bad entry id {entry_id[:50]!r}")
                continue
            is_own = fields.get(b"uid") == own
            if is_own:
                claim = self._claims.get(stream, {}).get(key)
                if claim is not None:
                    return self._with_emitter(stream, entries, i, claim)
                if self.store is None:  # without recovery every own entry was applied here
                    if key > self.read_position.get(stream, _ZERO):
                        self.read_position[stream] = key
                    continue
            try:
                message = decode_entry(fields, self.max_message_bytes)
            except ClusterMessageError as exc:
                self.dropped(stream, exc)
                continue
            if is_own:
                if message is None or not delivered_later(message):
                    # Applied here already (a room change, a volatile broadcast): only counted read.
                    if key > self.read_position.get(stream, _ZERO):
                        self.read_position[stream] = key
                    continue
                if self._inflight.get(stream):
                    # Its XADD's answer may be on the way: its emitter delivers it.
                    return self._await_claim(stream, entries, i, entry_id, message)
                # No emitter waits for it (it gave up before Redis answered): delivered from here.
            self._deliver(stream, key, entry_id, message, adapter)
        self._wake_readers(stream)
        return None

    def _deliver(
        self,
        stream: str,
        key: tuple[int, int],
        entry_id: str,
        message: ClusterMessage | None,
        adapter: ClusterAdapter | None,
    ) -> None:
        if key > self.read_position.get(stream, _ZERO):
            self.read_position[stream] = key
        if message is None or adapter is None:
            return
        if message.type in HEARTBEAT_TYPES:
            if not self._heartbeats_seen:
                self._heartbeats_seen = True
                self.logger.warning(
                    "the Redis stream %s has heartbeat entries of @socket.io/redis-streams-adapter "
                    "0.2.x: its nodes cannot share a cluster with 0.3.x nodes (and aiosio speaks "
                    "0.3.x); upgrade them",
                    stream,
                )
            return
        if message.nsp not in self._delivering:
            return
        try:
            if isinstance(message, ClusterBroadcast) and message.request_id is None:
                event, *args = message.packet.data
                selector = to_selector(message.opts)
                adapter.receive_broadcast(message.nsp, event, tuple(args), selector, offset=entry_id)
            elif message.uid != self.uid:
                self.dispatch(adapter, message)
        except Exception as exc:
            self.dropped(stream, f"{type(exc).__name__}: {exc}")
            self.logger.debug("stream entry handling failed", exc_info=True)

    async def _with_emitter(self, stream: str, entries: _Entries, index: int, claim: _Claim) -> None:
        """Everything before this own entry was handed over: its emitter delivers it now (or, when
        it cannot, this reader does), then the rest of the batch. A run of claimed own entries is
        handed over at once: their emitters resume in the order they are woken, each delivering in
        its step, so in the stream's order (one that fails to, only when its task is cancelled at
        that instant, is delivered here after the run)."""
        run = [(index, claim)]
        claims = self._claims.get(stream, {})
        own = self._uid_bytes
        for j in range(index + 1, len(entries)):
            raw_id, fields = entries[j]
            if fields.get(b"uid") != own:
                break
            try:
                key = stream_id_key(raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id))
            except ValueError:
                break
            following = claims.get(key)
            if following is None:
                break
            run.append((j, following))
        self._wake_readers(stream)
        for _i, each in run:
            if not each.reached.done():
                each.reached.set_result(None)
        await asyncio.wait({each.handed for _i, each in run}, timeout=self.log_timeout)
        for i, each in run:
            if not each.handed.done():
                each.handed.set_result(False)
            if not each.handed.result():
                raw_id, fields = entries[i]
                entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                try:
                    message = decode_entry(fields, self.max_message_bytes)
                except ClusterMessageError as exc:
                    self.dropped(stream, exc)
                    message = None
                self._deliver(stream, each.key, entry_id, message, self.adapter)
        await self._go_on(stream, entries, run[-1][0] + 1)

    async def _await_claim(
        self, stream: str, entries: _Entries, index: int, entry_id: str, message: ClusterMessage
    ) -> None:
        """An own entry read before its XADD answered: wait (bounded) for its emitter to claim it;
        delivered from here when no emitter does."""
        key = stream_id_key(entry_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.log_timeout + _CLAIM_MARGIN
        while True:
            claim = self._claims.get(stream, {}).get(key)
            if claim is not None:
                await self._with_emitter(stream, entries, index, claim)
                return
            remaining = deadline - loop.time()
            if not self._inflight.get(stream) or remaining <= 0:
                break
            waiter: asyncio.Future[None] = loop.create_future()
            self._claim_waiters.append(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                if waiter in self._claim_waiters:
                    self._claim_waiters.remove(waiter)
        self._deliver(stream, key, entry_id, message, self.adapter)
        await self._go_on(stream, entries, index + 1)

    async def _go_on(self, stream: str, entries: _Entries, index: int) -> None:
        rest = self._hand_over(stream, entries, index)
        if rest is not None:
            await rest

    def _wake_claim_waiters(self) -> None:
        waiters, self._claim_waiters = self._claim_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_readers(self, stream: str) -> None:
        if self._read_waiters:
            position = self.read_position.get(stream, _ZERO)
            for waiter_stream, key, future in list(self._read_waiters):
                if waiter_stream == stream and key <= position and not future.done():
                    future.set_result(None)

    def _on_message(self, channel: str, payload: bytes) -> None:
        adapter = self.adapter
        route = self._routes.get(channel)
        if adapter is None or route is None:
            return
        namespace, kind = route
        self._receive_on(adapter, channel, namespace, kind == _OWN, payload)

    def _decode(self, payload: bytes) -> ClusterMessage:
        return decode_ephemeral(payload, self.max_message_bytes)
