"""The Redis Streams recovery store: sessions and missed packets shared by every node of a
``@socket.io/redis-streams-adapter`` 0.3.x cluster (aiosio and Node), read from Redis.

- **Offsets** are the stream entry ids of the broadcasts (the driver's XADD gives them, the
  readers carry them), so :meth:`RedisStreamsStore.stamp` does nothing.
- **Sessions** are ``SET <session_key_prefix><pid> base64(msgpack({sid, pid, rooms, data[, start]}))
  PX <max_disconnection_duration>``, the key and value Node writes (so Node restores ours and we
  restore Node's). Unlike Node, which writes a session only when its connection is lost, this store
  writes it through: when the socket connects, on every change of its rooms or session data, and
  on a recoverable loss; it refreshes the expiry of its live sessions every half
  ``max_disconnection_duration`` (``PEXPIRE``; a missing one is written again), writes them all
  again when Redis is back after an outage, and deletes a session that ends for good, only if
  Redis still holds what this node wrote (compare-and-delete: another node may have restored it).
  So a node that is killed (SIGKILL) leaves its sessions behind, and its clients recover on
  another node. Writes are coalesced (one per changed session), queued in order with the
  adapter's other writes while the queue is at most half full; none blocks.
- **Restore** (Node's order, at most ``MAX_RESTORES`` at once): a ``PING`` through the write queue
  (this node's queued session writes first), ``MULTI GET DEL EXEC`` of the session (written back
  when the server does not take it up, or the restore fails for a passing reason), the client's
  offset must still be in the stream (``XRANGE off off``: an offset trimmed away, or of another
  stream, cannot be exact), then the entries after it are read in pages (``XRANGE … COUNT``) and those that
  :func:`~aiosio.protocol.cluster.replayable` accepts are replayed with their entry id appended:
  broadcasts of the namespace to the session's rooms, never one that asked for acks nor a volatile
  one (Node 0.3.1 replays both). A client that never received an offset recovers from where its
  session started (``start``, kept in the session). Reading stops where this node's delivery is
  (what the reader handed over, own entries included): everything later reaches
  the restored socket live, so nothing is missed or given twice (this node delivers in the
  stream's order, its own broadcasts too: see the driver's ``broadcast_logged``). A restore that
  would replay more than ``max_packets`` packets or ``max_bytes`` bytes, or read more than
  ``scan_limit`` entries, is refused rather than read without bound.

What :meth:`RedisStreamsStore.stats` counts: restores made and refused here, live sessions of this
node (``sessions``), and session writes that failed (``evicted_sessions``). What the stream
holds (packets, bytes, evictions by ``MAXLEN``) is Redis's, shared, and not counted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..protocol.cluster import (
    ClusterMessageError,
    WireSession,
    decode_entry,
    decode_session,
    encode_session,
    is_stream_id,
    next_offset,
    replayable,
    stream_id_key,
)
from .memory import ENTRY_OVERHEAD
from .offsets import format_offset
from .options import RecoveryOptions
from .store import RecoveryStats, Restored, SessionState

if TYPE_CHECKING:
    from ..adapters.base import EventPacket, Selector
    from ..adapters.redis.streams import StreamsDriver
    from ..protocol.frames import Frame

_log = logging.getLogger("aiosio.recovery")

#: Entries read per XRANGE while restoring.
PAGE = 100
#: Sessions refreshed per batch.
REFRESH_CHUNK = 500
#: How long a restore waits for this node's reader to reach the client's offset (another node
#: gave it out, this node may not have read it yet).
CATCH_UP_TIMEOUT = 5.0
_ZERO = (0, 0)
#: Restores run at once at most (each holds one pooled connection at a time), and how long one
#: waits for its turn before it is refused (its session untouched).
MAX_RESTORES = 32
RESTORE_WAIT = 10.0
#: Compare-and-delete, compare-and-set of a session key (KEYS[1]): only while it holds ARGV[1],
#: the value this node wrote last (or, for the set, when it is gone).
_DELETE_IF_MINE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
_SET_IF_MINE = (
    "local v = redis.call('GET', KEYS[1]) if v == false or v == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return 0"
)
#: A restore that cannot be exact now but may be later (the session is written back).
_AGAIN = object()


class RedisStreamsStore:
    """A :class:`~aiosio.recovery.store.RecoveryStore` on the Redis of a
    :class:`~aiosio.adapters.redis.streams.StreamsDriver` (see the module docstring). Made by the
    driver's ``recovery_store``. ``delivery_window`` is accepted for the seam and not used: a
    trimmed offset always refuses (the stream cannot tell which entries a client had)."""

    def __init__(
        self,
        driver: StreamsDriver,
        options: RecoveryOptions,
        delivery_window: float | None = None,
        *,
        scan_limit: int | None = None,
    ) -> None:
        self.options = options
        self._driver = driver
        self._delivery_window = delivery_window
        self.scan_limit = scan_limit if scan_limit is not None else max(100_000, 4 * driver.max_len)
        self._ttl_ms = max(1, round(options.max_disconnection_duration * 1000))
        #: pid -> the session of a socket connected to this node (written through, refreshed).
        self._live: dict[str, SessionState] = {}
        self._stats = RecoveryStats()
        self._refresh: asyncio.Task[None] | None = None
        self._unwritable_logged = False
        #: Sessions restored in this step of the event loop, until the server takes them up.
        self._taken: dict[str, SessionState] = {}
        self._slots = asyncio.Semaphore(MAX_RESTORES)
        #: Sessions changed and not written yet, oldest first (one write per session, however
        #: often it changed), and the task writing them.
        self._dirty: dict[str, tuple[SessionState, bool]] = {}
        self._flusher: asyncio.Task[None] | None = None
        #: pid -> the value this node last wrote for a live session (for the compare-and-set or
        #: -delete when the socket goes).
        self._mine: dict[str, bytes] = {}
        self._chained: Callable[[], None] | None = None

    # -- lifecycle (the driver's) -------------------------------------------------------------------

    def start(self) -> None:
        """Start refreshing the live sessions (the driver calls it when it starts); after an
        outage of Redis every live session is written again (a restarted or flushed Redis lost
        them, writes dropped meanwhile are redone)."""
        link = self._driver.link
        if link.on_reconnect is not self._rewrite_live:
            before = link.on_reconnect
            self._chained = before
            link.on_reconnect = self._rewrite_live
        if self._refresh is None:
            self._refresh = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="aiosio-recovery-refresh"
            )

    async def close(self) -> None:
        """Stop refreshing (the sessions stay in Redis until they expire); what is still to be
        written goes to the link's queue now (its close drains it, bounded)."""
        for task in (self._refresh, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresh = self._flusher = None
        dirty, self._dirty = self._dirty, {}
        for state, lost in dirty.values():
            self._write(state, lost)

    def _rewrite_live(self) -> None:
        """The link is back after an outage: every live session is written again (coalesced)."""
        if self._chained is not None:
            self._chained()
        for state in list(self._live.values()):
            self._mark(state)

    async def _refresh_loop(self) -> None:
        interval = max(0.05, self.options.max_disconnection_duration / 2)
        while True:
            await asyncio.sleep(interval)
            states = list(self._live.values())
            for start in range(0, len(states), REFRESH_CHUNK):
                # In chunks, while the link's queue has room: a refresh of many sessions must not
                # push the node's broadcasts out of a full queue.
                await self._room_in_queue()
                for state in states[start : start + REFRESH_CHUNK]:
                    if self._live.get(state.pid) is state:
                        self._touch(state.pid)

    def _touch(self, pid: str) -> None:
        """Refresh a live session's expiry (``PEXPIRE``); written again when it is missing (Redis
        restarted, flushed, or a write was lost)."""
        done = self._driver.link.command("PEXPIRE", self._key(pid), self._ttl_ms, reply=True)
        if done is not None:
            done.add_done_callback(lambda reply: self._touched(pid, reply))

    def _touched(self, pid: str, reply: asyncio.Future[Any]) -> None:
        if reply.cancelled() or reply.exception() is not None or reply.result() != 0:
            return
        state = self._live.get(pid)
        if state is not None:
            self._mark(state)

    async def _room_in_queue(self) -> None:
        """Until the link's queue is at most half full (session writes never push a broadcast
        out of it)."""
        link = self._driver.link
        while link.stats.pending > link.max_pending // 2:
            await asyncio.sleep(0.01)

    def _mark(self, state: SessionState, lost: bool = False) -> None:
        """Write ``state`` soon (coalesced: a room change of many sockets is one write each, in
        chunks while the queue has room); ``lost``: only over what this node wrote last."""
        self._dirty.pop(state.pid, None)
        self._dirty[state.pid] = (state, lost)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="aiosio-recovery-writes"
            )

    async def _flush(self) -> None:
        dirty = self._dirty
        while dirty:
            await self._room_in_queue()
            for _ in range(min(REFRESH_CHUNK, len(dirty))):
                pid = next(iter(dirty))
                self._write(*dirty.pop(pid))
            await asyncio.sleep(0)

    # -- the store interface ----------------------------------------------------------------------

    def position(self) -> str | None:
        """The newest entry delivered by this node (over every stream it reads): where a socket
        connecting now starts."""
        driver = self._driver
        streams = set(driver.read_position)
        if not streams:
            return None
        return format_offset(max(driver.position(s) for s in streams))

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """Nothing: the offset is the entry id the driver's XADD gives."""

    def save_session(self, state: SessionState) -> None:
        """Write a connected socket's session through (and keep it fresh while it is connected)."""
        self._taken.pop(state.pid, None)
        self._live[state.pid] = state
        if self._refresh is None and self._driver.adapter is not None:
            self.start()
        self._mark(state)

    def persist(self, state: SessionState) -> None:
        """The socket's connection was lost: its session stays ``max_disconnection_duration``."""
        self._live.pop(state.pid, None)
        self._mark(state, lost=True)

    def discard(self, pid: str) -> None:
        """The session is over (taken up by a new socket, or ended for good): delete it."""
        self._taken.pop(pid, None)
        self._live.pop(pid, None)
        self._dirty.pop(pid, None)  # a write still to come would bring it back
        mine = self._mine.pop(pid, None)
        if mine is None:
            self._driver.link.command("DEL", self._key(pid))
        else:
            # Only if it is still what this node wrote: a restore elsewhere took the session
            # over (and wrote it there) while this node let its old socket go.
            self._driver.link.command("EVAL", _DELETE_IF_MINE, 1, self._key(pid), mine)

    def _key(self, pid: str) -> str:
        return self._driver.session_key_prefix + pid

    def _write(self, state: SessionState, lost: bool = False) -> None:
        data = {} if state.data is None else state.data
        try:
            value = encode_session(WireSession(state.sid, state.pid, state.rooms, data, state.start))
        except (TypeError, ValueError) as exc:
            self._stats.evicted_sessions += 1
            if not self._unwritable_logged:
                self._unwritable_logged = True
                _log.warning(
                    "a session could not be written to Redis (its data is not msgpack-serializable: "
                    "%s); it cannot be recovered on another node (further cases are counted)",
                    exc,
                )
            return
        link, key = self._driver.link, self._key(state.pid)
        mine = self._mine.pop(state.pid, None) if lost else None
        if mine is not None:
            # The connection was lost: not over a session another node restored meanwhile.
            done = link.command("EVAL", _SET_IF_MINE, 1, key, mine, value, self._ttl_ms, reply=True)
        else:
            done = link.command("SET", key, value, "PX", self._ttl_ms, reply=True)
            if not lost:
                self._mine[state.pid] = value
        if done is not None:
            done.add_done_callback(self._written)

    def _written(self, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is not None:
            self._stats.evicted_sessions += 1  # dropped (a full queue, a failed round trip) or refused

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """The session ``pid`` and the packets after ``offset`` (after the session's start when
        None), or None when that cannot be exact (see the module docstring)."""
        try:
            # At most MAX_RESTORES at once (a reconnect storm must not exhaust the client's
            # connection pool, which redis-py fails rather than waits on, nor starve the writer).
            async with asyncio.timeout(RESTORE_WAIT):
                await self._slots.acquire()
        except TimeoutError:
            _log.warning("connection-state recovery: too many restores at once; a fresh session")
            self._stats.refused += 1
            return None
        try:
            restored = await self._restore(namespace, pid, offset)
        except (ConnectionError, OSError, TimeoutError) as exc:
            _log.warning("connection-state recovery: Redis did not answer (%r); a fresh session", exc)
            restored = None
        except Exception as exc:  # redis-py's errors: refused, never a crash of the connect
            _log.warning("connection-state recovery failed (%r); a fresh session", exc)
            restored = None
        finally:
            self._slots.release()
        if restored is None:
            self._stats.refused += 1
        else:
            self._stats.recovered += 1
        return restored

    async def _restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        if offset is not None and not is_stream_id(offset):
            return None  # Node's rule: not a stream id (the session key is left to expire)
        driver = self._driver
        link = driver.link
        # A barrier first: every session write this node queued before (the socket's last room
        # change, its persist) reaches Redis before the GET, and none re-creates the key after
        # the DEL.
        pending = self._dirty.pop(pid, None)
        if pending is not None:
            self._write(*pending)
        barrier = link.command("PING", reply=True)
        assert barrier is not None
        await asyncio.wait_for(barrier, link.op_timeout)
        raw, _deleted = await link.transaction([("GET", self._key(pid)), ("DEL", self._key(pid))])
        if raw is None:
            return None
        try:
            wire = decode_session(raw, driver.max_message_bytes)
        except ClusterMessageError as exc:
            _log.warning("connection-state recovery: a stored session is not valid (%s)", exc)
            return None
        if wire.pid != pid:
            return None
        state = SessionState(
            wire.sid,
            wire.pid,
            namespace,
            tuple(r if isinstance(r, str) else str(r) for r in wire.rooms),
            None if wire.data == {} else wire.data,
            wire.start,
        )
        try:
            missed = await self._missed(namespace, wire, offset)
        except BaseException:
            self._put_back(state)  # Redis failed meanwhile: the next attempt may succeed
            raise
        if missed is _AGAIN:
            self._put_back(state)
            return None
        if missed is None:
            return None
        assert isinstance(missed, list)
        restored = Restored(state, missed)
        self._taken[pid] = state
        asyncio.get_running_loop().call_soon(self._unclaimed, pid, state)
        return restored

    def _put_back(self, state: SessionState) -> None:
        """Write a session taken out by a restore back (with a fresh expiry)."""
        self._write(state)

    def _unclaimed(self, pid: str, state: SessionState) -> None:
        """The end of the step that restored ``pid``: a session the server did not take up (the
        connection closed meanwhile, the sid is in use) goes back to Redis, and the restore counts
        as refused."""
        if self._taken.get(pid) is not state:
            return
        del self._taken[pid]
        self._stats.recovered -= 1
        self._stats.refused += 1
        self._put_back(state)

    async def _missed(
        self, namespace: str, wire: WireSession, offset: str | None
    ) -> list[Sequence[Frame]] | object | None:
        """The packets a restored session missed; None when that cannot be exact (for good),
        ``_AGAIN`` when it cannot be now (this node's reader is behind)."""
        driver = self._driver
        link = driver.link
        stream = driver.stream_of(namespace)
        start = wire.start
        if offset is not None and (start is None or stream_id_key(offset) >= stream_id_key(start)):
            # Node's rule: the client's offset must still be in the stream (trimmed away: too long
            # ago or too busy a stream; absent: another stream's, or made up).
            after, claimed = offset, True
            if not await link.call("XRANGE", stream, after, after):
                return None
        elif start is not None:
            # No offset, or one from before the session began (a previous session's): from the
            # session's start, which must not have been trimmed past.
            after, claimed = start, False
            if not await self._kept_since(stream, after):
                return None
        else:
            return None
        cursor = stream_id_key(after)
        driver.read(stream)  # a namespace of a stream this node does not read yet: from now on
        # Another node gave out this position: this node must have read that far before the socket
        # joins here, or the reader would hand the socket what it already has. (A start taken
        # over several streams may lie ahead of this one's last entry: not waited for.)
        if (claimed or driver.stream_count == 1) and not await driver.wait_read(
            stream, cursor, CATCH_UP_TIMEOUT
        ):
            return _AGAIN
        rooms = tuple(wire.rooms)
        missed: list[Sequence[Frame]] = []
        size = 0
        scanned = 0
        while True:
            # No await between this check and the return: the caller adds the socket before this
            # node delivers anything newer, which then reaches it live. Everything up to the
            # position was delivered here in the stream's order (own entries too), nothing after.
            upto = driver.position(stream)
            if cursor >= upto:
                break
            start, end = next_offset(format_offset(cursor)), format_offset(upto)
            entries = await link.call("XRANGE", stream, start, end, "COUNT", PAGE)
            if not entries:
                cursor = upto
                continue
            for raw_id, fields in entries:
                entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                key = stream_id_key(entry_id)
                try:
                    message = decode_entry(fields, driver.max_message_bytes)
                except ClusterMessageError:
                    cursor = key  # the reader drops it too
                    continue
                cursor = key
                scanned += 1
                if scanned > self.scan_limit:
                    return None
                if message is None:
                    continue
                data = replayable(message, namespace, rooms)
                if data is None:
                    continue
                event, *args = data
                frames = driver.encode_event(namespace, event, (*args, entry_id))
                size += ENTRY_OVERHEAD + sum(len(f.payload) for f in frames)
                missed.append(frames)
                if len(missed) > self.options.max_packets or size > self.options.max_bytes:
                    return None
        return missed

    async def _kept_since(self, stream: str, after: str) -> bool:
        """Whether no entry after ``after`` was trimmed from ``stream`` (trimming takes the oldest:
        it holds when ``after`` is still there, when the oldest entry is not after it, or when the
        stream was never trimmed)."""
        link = self._driver.link
        if after != "0-0" and await link.call("XRANGE", stream, after, after):
            return True
        if not await link.call("EXISTS", stream):
            return True  # never written: nothing trimmed
        info = await link.call("XINFO", "STREAM", stream)
        added = _info_int(info, "entries-added")
        # Redis < 7 does not count the entries added: unknown, so the oldest entry decides.
        if added is not None and added <= (_info_int(info, "length") or 0):
            return True
        first = _first_entry_id(info)
        return first is not None and stream_id_key(first) <= stream_id_key(after)

    def stats(self) -> RecoveryStats:
        """What this node counts (see the module docstring)."""
        stats = self._stats
        return RecoveryStats(
            sessions=len(self._live),
            evicted_sessions=stats.evicted_sessions,
            recovered=stats.recovered,
            refused=stats.refused,
        )


def _first_entry_id(info: Any) -> str | None:
    """The id of the oldest entry in an ``XINFO STREAM`` reply, or None."""
    if not isinstance(info, dict):
        return None
    first = info.get("first-entry", info.get(b"first-entry"))
    if not first:
        return None
    raw = first[0]
    entry_id = raw.decode() if isinstance(raw, bytes) else str(raw)
    return entry_id if is_stream_id(entry_id) else None


def _info_int(info: Any, name: str) -> int | None:
    """A number out of an ``XINFO STREAM`` reply (None when absent: Redis < 7 has no
    ``entries-added``)."""
    value: Any = info.get(name, info.get(name.encode())) if isinstance(info, dict) else None
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
