"""The in-memory recovery store: the embedded default, for one process.

Packets are kept in the order they were stamped, with the selector they went to, as the frames
they were sent as (copies sharing the payload bytes, without the transports' cached forms). The
oldest go first when there are more than ``max_packets``, more than ``max_bytes``, or when they are
older than ``max_disconnection_duration``; every packet that goes is counted. A restore is exact or
refused: it is refused when a packet after the client's offset that it may not have received was
let go.

Which let-go packets a client may not have received: the client's offset is the newest it
received, so every packet for it sent while it was connected, until its connection failed, came
before that offset, except those still in flight when the connection was lost. With a
``delivery_window`` (how long a packet can be in flight before a dead connection is noticed: the
server uses twice ``ping_interval + ping_timeout``), packets let go that were sent more than that
long before the connection was lost cannot be missing, so a client that was idle while the busy
server let go of other clients' packets still recovers (Node refuses it). Without a window, any
packet let go after the offset refuses the restore.

Time comes from the ``clock`` given (wall-clock seconds, ``time.time`` by default), so the store
can be driven with a fake clock.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from ..adapters.base import EventPacket, Selector
from ..protocol.frames import Frame
from .offsets import format_offset, parse_offset
from .options import RecoveryOptions
from .store import RecoveryStats, Restored, SessionState

#: Bytes counted for each kept packet besides its payloads (the entry, its frames, the selector).
ENTRY_OVERHEAD = 200

_NOWHERE = (0, 0)


class _Entry:
    __slots__ = ("at", "exclude", "frames", "key", "namespace", "rooms", "sids", "size")

    def __init__(
        self,
        key: tuple[int, int],
        namespace: str,
        selector: Selector,
        frames: list[Frame],
        size: int,
        at: float,
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.rooms = None if selector.rooms is None else frozenset(selector.rooms)
        self.exclude = frozenset(selector.exclude)
        self.sids = selector.sids
        self.frames = frames
        self.size = size
        self.at = at

    def selects(self, state: SessionState, rooms: frozenset[str]) -> bool:
        """Node's ``shouldIncludePacket``: a room of the session is selected and none excluded."""
        if self.namespace != state.namespace:
            return False
        if self.rooms is not None:
            if self.sids:
                if state.sid not in self.rooms:
                    return False
            elif rooms.isdisjoint(self.rooms):
                return False
        return not self.exclude or rooms.isdisjoint(self.exclude)


class MemoryStore:
    """Sessions and replayable packets of one process (see the module docstring)."""

    def __init__(
        self,
        options: RecoveryOptions,
        clock: Callable[[], float] = time.time,
        delivery_window: float | None = None,
    ) -> None:
        self.options = options
        self._clock = clock
        self._delivery_window = delivery_window
        self._packets: deque[_Entry] = deque()
        self._bytes = 0
        #: The newest key given out, and the newest key let go (nothing after it is missing) with
        #: the time its packet was kept.
        self._last: tuple[int, int] | None = None
        self._let_go: tuple[int, int] | None = None
        self._let_go_at = 0.0
        #: pid -> (session, when its connection was lost), oldest first.
        self._sessions: OrderedDict[str, tuple[SessionState, float]] = OrderedDict()
        self._stats = RecoveryStats()

    # -- packets --------------------------------------------------------------------------------

    def position(self) -> str | None:
        """The newest offset given out, or None."""
        return None if self._last is None else format_offset(self._last)

    def _next_key(self, now: float) -> tuple[int, int]:
        ms = int(now * 1000)
        last = self._last
        key = (last[0], last[1] + 1) if last is not None and ms <= last[0] else (ms, 0)
        self._last = key
        return key

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """Give the packet the next offset, encode it (once, for every recipient) and keep it."""
        now = self._clock()
        key = self._next_key(now)
        packet.offset = format_offset(key)
        frames = [Frame(f.payload, f.binary) for f in packet.frames()]
        size = ENTRY_OVERHEAD + sum(len(f.payload) for f in frames)
        self._packets.append(_Entry(key, packet.namespace, selector, frames, size, now))
        self._bytes += size
        self._trim(now)

    def _trim(self, now: float) -> None:
        packets = self._packets
        options = self.options
        stats = self._stats
        oldest = now - options.max_disconnection_duration
        while packets and packets[0].at < oldest:
            entry = packets.popleft()
            self._bytes -= entry.size
            self._let_go, self._let_go_at = entry.key, entry.at
            stats.expired_packets += 1
        while packets and (len(packets) > options.max_packets or self._bytes > options.max_bytes):
            entry = packets.popleft()
            self._bytes -= entry.size
            self._let_go, self._let_go_at = entry.key, entry.at
            stats.evicted_packets += 1
            stats.evicted_bytes += entry.size

    # -- sessions -------------------------------------------------------------------------------

    def save_session(self, state: SessionState) -> None:
        """Nothing to do: a connected socket's state lives in the server, and dies with it."""

    def persist(self, state: SessionState) -> None:
        """Keep a disconnected socket's session until ``max_disconnection_duration`` from now."""
        now = self._clock()
        self._expire_sessions(now)
        sessions = self._sessions
        sessions.pop(state.pid, None)
        sessions[state.pid] = (state, now)
        while len(sessions) > self.options.max_sessions:
            sessions.popitem(last=False)
            self._stats.evicted_sessions += 1

    def _expire_sessions(self, now: float) -> None:
        sessions = self._sessions
        oldest = now - self.options.max_disconnection_duration
        while sessions:
            pid, (_state, lost_at) = next(iter(sessions.items()))
            if lost_at > oldest:
                break
            del sessions[pid]
            self._stats.expired_sessions += 1

    def discard(self, pid: str) -> None:
        """Forget the session ``pid`` (a new socket took it up)."""
        self._sessions.pop(pid, None)

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """See :meth:`lookup` (this store answers at once)."""
        return self.lookup(namespace, pid, offset)

    def lookup(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """The session ``pid`` of ``namespace`` and the packets after ``offset`` (after the
        session's start when None) that it selects; None when that cannot be exact: unknown or
        expired session, an offset this store never gave out, or a packet after it let go."""
        now = self._clock()
        self._expire_sessions(now)
        self._trim(now)
        kept = self._sessions.get(pid)
        if kept is None or kept[0].namespace != namespace:
            self._stats.refused += 1
            return None
        state, lost_at = kept
        start = _NOWHERE if state.start is None else parse_offset(state.start) or _NOWHERE
        if offset is None:
            after = start
        else:
            key = parse_offset(offset)
            if key is None or self._last is None or key > self._last:
                self._stats.refused += 1
                return None
            # Never before the session began: the client got nothing older from this session.
            after = max(key, start)
        if self._let_go is not None and after < self._let_go:
            window = self._delivery_window
            if window is None or self._let_go_at >= lost_at - window:
                self._stats.refused += 1
                return None
        rooms = frozenset(state.rooms)
        missed: list[Sequence[Frame]] = []
        for entry in reversed(self._packets):
            if entry.key <= after:
                break
            if entry.selects(state, rooms):
                missed.append(entry.frames)
        missed.reverse()
        self._stats.recovered += 1
        return Restored(state, missed)

    def stats(self) -> RecoveryStats:
        """The counters now (a copy)."""
        stats = self._stats
        return RecoveryStats(
            packets=len(self._packets),
            bytes=self._bytes,
            sessions=len(self._sessions),
            evicted_packets=stats.evicted_packets,
            evicted_bytes=stats.evicted_bytes,
            expired_packets=stats.expired_packets,
            expired_sessions=stats.expired_sessions,
            evicted_sessions=stats.evicted_sessions,
            recovered=stats.recovered,
            refused=stats.refused,
        )
