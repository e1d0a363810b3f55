"""What every recovery store that keeps its own log shares: the packet log (offsets, bounds,
evictions counted, which packets a session missed, when a restore must be refused) and the shelf of
lost sessions (kept for ``max_disconnection_duration``, bounded in number).

The in-process :class:`~aiosio.recovery.memory.MemoryStore` keeps the frames of each packet in it;
the workers' hub (:mod:`aiosio.workers.hub_log`) keeps the cluster message of each broadcast. Both
keep the same rules, written once here. Nothing here reads a clock: the caller passes ``now``
(wall-clock seconds).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Generic, TypeVar

from .offsets import format_offset, parse_offset
from .options import RecoveryOptions
from .store import RecoveryStats, SessionState

__all__ = ["NOWHERE", "Key", "LogEntry", "LostSessions", "PacketLog"]

T = TypeVar("T")
V = TypeVar("V")

#: An offset as a comparable pair ``(ms, seq)``.
Key = tuple[int, int]
#: Before every offset.
NOWHERE: Key = (0, 0)


class LogEntry(Generic[T]):
    """One kept packet: its key, where it went (namespace, rooms, excluded rooms, whether the
    rooms are sids), what the store keeps of it (``body``), its counted size and when it was kept."""

    __slots__ = ("at", "body", "exclude", "key", "namespace", "rooms", "sids", "size")

    def __init__(
        self,
        key: Key,
        namespace: str,
        rooms: tuple[str, ...] | None,
        exclude: tuple[str, ...],
        sids: bool,
        body: T,
        size: int,
        at: float,
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.rooms = None if rooms is None else frozenset(rooms)
        self.exclude = frozenset(exclude)
        self.sids = sids
        self.body = body
        self.size = size
        self.at = at

    def selects(self, namespace: str, sid: str, rooms: frozenset[str]) -> bool:
        """Node's ``shouldIncludePacket``: a room of the session is selected and none excluded."""
        if self.namespace != namespace:
            return False
        if self.rooms is not None:
            if self.sids:
                if sid not in self.rooms:
                    return False
            elif rooms.isdisjoint(self.rooms):
                return False
        return not self.exclude or rooms.isdisjoint(self.exclude)


class PacketLog(Generic[T]):
    """Replayable packets in offset order, bounded by ``options`` (count, bytes, age).

    The oldest go first; every packet that goes is counted in ``stats``. ``options`` may be
    replaced (the workers' hub takes the bounds its workers send).
    """

    def __init__(self, options: RecoveryOptions, stats: RecoveryStats) -> None:
        self.options = options
        self.stats = stats
        self.entries: deque[LogEntry[T]] = deque()
        self.bytes = 0
        #: The newest key given out, and the newest key let go (nothing after it is missing) with
        #: the time its packet was kept.
        self.last: Key | None = None
        self.let_go: Key | None = None
        self.let_go_at = 0.0

    def snapshot(self, sessions: int) -> RecoveryStats:
        """A copy of ``stats`` with what is kept now: this log's packets and bytes, and
        ``sessions`` (the caller counts its sessions)."""
        return replace(self.stats, packets=len(self.entries), bytes=self.bytes, sessions=sessions)

    def position(self) -> str | None:
        """The newest offset given out, or None."""
        return None if self.last is None else format_offset(self.last)

    def next_key(self, now: float) -> Key:
        """The key of a packet kept at ``now``: the millisecond and a sequence within it (a clock
        that steps back keeps the last millisecond and counts on)."""
        ms = int(now * 1000)
        last = self.last
        key = (last[0], last[1] + 1) if last is not None and ms <= last[0] else (ms, 0)
        self.last = key
        return key

    def append(self, entry: LogEntry[T], now: float) -> None:
        """Keep ``entry`` (its key from :meth:`next_key`), then apply the bounds."""
        self.entries.append(entry)
        self.bytes += entry.size
        self.trim(now)

    def trim(self, now: float) -> None:
        """Let go of the packets older than ``max_disconnection_duration``, then of the oldest
        while over ``max_packets`` or ``max_bytes``."""
        entries = self.entries
        options = self.options
        stats = self.stats
        oldest = now - options.max_disconnection_duration
        while entries and entries[0].at < oldest:
            entry = entries.popleft()
            self.bytes -= entry.size
            self.let_go, self.let_go_at = entry.key, entry.at
            stats.expired_packets += 1
        while entries and (len(entries) > options.max_packets or self.bytes > options.max_bytes):
            entry = entries.popleft()
            self.bytes -= entry.size
            self.let_go, self.let_go_at = entry.key, entry.at
            stats.evicted_packets += 1
            stats.evicted_bytes += entry.size

    def missed(
        self, state: SessionState, lost_at: float, offset: str | None, window: float | None
    ) -> list[LogEntry[T]] | None:
        """The kept packets after ``offset`` (after the session's start when None) that the
        session selects, oldest first; None when that cannot be exact: an offset this log never
        gave out, or a packet after it that the client may not have received let go (see
        :mod:`aiosio.recovery.memory` for the ``window`` rule; ``lost_at`` is when the session's
        connection was lost)."""
        start = NOWHERE if state.start is None else parse_offset(state.start) or NOWHERE
        if offset is None:
            after = start
        else:
            key = parse_offset(offset)
            if key is None or self.last is None or key > self.last:
                return None
            # Never before the session began: the client got nothing older from this session.
            after = max(key, start)
        let_go = self.let_go
        if let_go is not None and after < let_go and (window is None or self.let_go_at >= lost_at - window):
            return None
        rooms = frozenset(state.rooms)
        namespace, sid = state.namespace, state.sid
        found: list[LogEntry[T]] = []
        for entry in reversed(self.entries):
            if entry.key <= after:
                break
            if entry.selects(namespace, sid, rooms):
                found.append(entry)
        found.reverse()
        return found


class LostSessions(Generic[V]):
    """Sessions whose connection was lost, by pid, oldest loss first: each kept until
    ``max_disconnection_duration`` after its loss, at most ``max_sessions`` of them (the oldest go
    first; both counted in ``stats``). With ``size``, :attr:`bytes` is the sum of the sizes of
    the sessions kept (for a caller's own byte bound)."""

    def __init__(
        self, options: RecoveryOptions, stats: RecoveryStats, size: Callable[[V], int] | None = None
    ) -> None:
        self.options = options
        self.stats = stats
        self.bytes = 0
        self._size = size
        self._kept: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def _gone(self, value: V) -> None:
        if self._size is not None:
            self.bytes -= self._size(value)

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self) -> Iterator[tuple[str, V, float]]:
        for pid, (value, lost_at) in self._kept.items():
            yield pid, value, lost_at

    def put(self, pid: str, value: V, now: float) -> None:
        """Keep ``value`` as the session ``pid``, lost at ``now`` (replacing what it was)."""
        self.expire(now)
        kept = self._kept
        self.pop(pid)
        kept[pid] = (value, now)
        if self._size is not None:
            self.bytes += self._size(value)
        while len(kept) > self.options.max_sessions:
            self._gone(kept.popitem(last=False)[1][0])
            self.stats.evicted_sessions += 1

    def expire(self, now: float) -> None:
        """Forget the sessions lost ``max_disconnection_duration`` ago or more."""
        kept = self._kept
        oldest = now - self.options.max_disconnection_duration
        while kept:
            pid, (value, lost_at) = next(iter(kept.items()))
            if lost_at > oldest:
                break
            del kept[pid]
            self._gone(value)
            self.stats.expired_sessions += 1

    def get(self, pid: str) -> tuple[V, float] | None:
        """The session ``pid`` and when it was lost, if kept."""
        return self._kept.get(pid)

    def pop(self, pid: str) -> tuple[V, float] | None:
        """Forget the session ``pid``; what was kept, if anything."""
        found = self._kept.pop(pid, None)
        if found is not None:
            self._gone(found[0])
        return found

    def pop_oldest(self) -> tuple[str, V] | None:
        """Forget the session lost first (a caller's own bound); it, if any."""
        if not self._kept:
            return None
        pid, (value, _lost_at) = self._kept.popitem(last=False)
        self._gone(value)
        return pid, value
