"""The recovery log the workers' hub keeps for one channel (one Socket.IO server of the app), for
connection-state recovery across ``--workers``. Sans-IO: values in, values out, the time passed in.

- **Packets**: each logged broadcast gets the next offset (``<ms>-<seq>``, the form of a Redis
  stream id, which every official client keeps), and its cluster message is kept with where it
  went, bounded by the channel's :class:`~aiosio.recovery.RecoveryOptions` (count, bytes, age),
  evictions counted: :class:`~aiosio.recovery.log.PacketLog`, the rules of the in-process store.
- **Sessions**, written through by the workers as they change: *live* ones (a worker holds the
  socket) are kept while their worker is connected to the hub; *lost* ones (the connection was lost
  for a recoverable reason, or the worker died) for ``max_disconnection_duration`` after the loss.
  Each session has an owner (the uid of the worker that holds or last held it): a write from
  another worker is ignored, so a worker whose old socket was taken over by a restore elsewhere
  cannot overwrite or delete the session. The session data are kept as the worker encoded them.
  Sessions are bounded by ``max_sessions`` and, in bytes, by ``max_bytes`` (lost ones go first).
- **Restore**: the session and the packets after the client's offset that its rooms select, or
  refused (:meth:`ChannelLog.restore`). A session handed over by a restore is not handed over
  again until its new worker wrote it (or :data:`HAND_OVER_GUARD` passed): two restores of one
  pid close together (a client that retried at once) must not give two sockets one sid.
  A session change its old worker wrote just before the restore came (in flight then) is not
  kept: the restore took the session as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..recovery.log import LogEntry, LostSessions, PacketLog
from ..recovery.memory import ENTRY_OVERHEAD
from ..recovery.offsets import format_offset
from ..recovery.options import RecoveryOptions
from ..recovery.store import RecoveryStats, SessionState

__all__ = [
    "HAND_OVER_GUARD",
    "RESTORE_OVERHEAD",
    "SESSION_OVERHEAD",
    "ChannelLog",
    "HubRestore",
    "HubSession",
]

#: Bytes counted for each kept session besides its data and rooms.
SESSION_OVERHEAD = 200
#: Bytes counted in a restore's answer for each missed packet besides its message.
RESTORE_OVERHEAD = 64
#: Seconds during which a session just handed over by a restore is refused to another restore,
#: unless its new worker wrote it since (it does as soon as the restored socket is accepted).
HAND_OVER_GUARD = 1.0


@dataclass(eq=False)
class HubSession:
    """A session as the hub keeps it (``data``: the worker's encoding, never decoded here)."""

    pid: str
    namespace: str
    sid: str
    rooms: tuple[str, ...]
    start: str | None
    data: bytes
    #: The uid of the worker that holds (or last held) the session's socket.
    owner: str = ""
    #: When a restore handed the session to ``owner`` (None once ``owner`` wrote it).
    handed_at: float | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = (
            SESSION_OVERHEAD
            + len(self.data)
            + sum(len(r) + 8 for r in self.rooms)
            + len(self.sid)
            + len(self.pid)
            + len(self.namespace)
            + len(self.start or "")
        )

    def state(self) -> SessionState:
        """The fields the packet selection reads (no data)."""
        return SessionState(self.sid, self.pid, self.namespace, self.rooms, None, self.start)


@dataclass
class HubRestore:
    """A restore found: the session and the missed ``(offset, message)`` pairs in order."""

    session: HubSession
    missed: list[tuple[str, bytes]]


def _session_size(session: HubSession) -> int:
    return session.size


class ChannelLog:
    """Packets and sessions of one hub channel (see the module docstring)."""

    def __init__(self, options: RecoveryOptions | None = None, window: float | None = None) -> None:
        self.options = options or RecoveryOptions()
        #: How long a packet may be in flight before a dead connection is noticed (the workers'
        #: ``delivery_window``; see :mod:`aiosio.recovery.memory`).
        self.window = window
        self.stats = RecoveryStats()
        self._log: PacketLog[bytes] = PacketLog(self.options, self.stats)
        self._live: dict[str, HubSession] = {}
        self._live_bytes = 0
        self._lost: LostSessions[HubSession] = LostSessions(self.options, self.stats, _session_size)

    def configure(self, options: RecoveryOptions, window: float | None) -> None:
        """Take the bounds a worker sends (the last one wins: a rolling restart may change them)."""
        self.options = options
        self.window = window
        self._log.options = options
        self._lost.options = options

    def position(self) -> str | None:
        """The newest offset given out, or None."""
        return self._log.position()

    # -- packets --------------------------------------------------------------------------------

    def append(
        self,
        namespace: str,
        rooms: tuple[str, ...] | None,
        exclude: tuple[str, ...],
        sids: bool,
        message: bytes,
        now: float,
    ) -> str:
        """Keep a broadcast's cluster ``message``; its offset."""
        log = self._log
        key = log.next_key(now)
        size = ENTRY_OVERHEAD + len(message)
        log.append(LogEntry(key, namespace, rooms, exclude, sids, message, size, now), now)
        return format_offset(key)

    # -- sessions -------------------------------------------------------------------------------

    def _find(self, pid: str) -> HubSession | None:
        live = self._live.get(pid)
        if live is not None:
            return live
        lost = self._lost.get(pid)
        return None if lost is None else lost[0]

    def _remove(self, pid: str) -> None:
        live = self._live.pop(pid, None)
        if live is not None:
            self._live_bytes -= live.size
        else:
            self._lost.pop(pid)

    def _writable(self, session: HubSession) -> bool:
        found = self._find(session.pid)
        return found is None or found.owner == session.owner

    def save(self, session: HubSession, now: float) -> bool:
        """A connected socket's session (new, or its rooms or data changed), from its worker
        ``session.owner``; False if ignored (another worker owns the session)."""
        self._lost.expire(now)
        if not self._writable(session):
            return False
        self._remove(session.pid)
        self._live[session.pid] = session
        self._live_bytes += session.size
        self._bound()
        return True

    def lose(self, session: HubSession, now: float) -> bool:
        """A socket's connection was lost for a recoverable reason: keep its session until
        ``max_disconnection_duration`` from ``now``; False if ignored."""
        self._lost.expire(now)
        if not self._writable(session):
            return False
        self._remove(session.pid)
        self._lost.put(session.pid, session, now)
        self._bound()
        return True

    def drop(self, owner: str, pid: str) -> bool:
        """A socket of ``owner`` ended for good (a non-recoverable disconnect): forget its session
        (if ``owner`` still owns it)."""
        found = self._find(pid)
        if found is None or found.owner != owner:
            return False
        self._remove(pid)
        return True

    def owner_left(self, owner: str, now: float) -> int:
        """The worker ``owner`` left the hub (stopped or died): its live sessions are lost now, and
        kept for ``max_disconnection_duration``. How many."""
        gone = [s for s in self._live.values() if s.owner == owner]
        for session in gone:
            self._remove(session.pid)
            self._lost.put(session.pid, session, now)
        self._bound()
        return len(gone)

    def _bound(self) -> None:
        """At most ``max_sessions`` sessions and ``max_bytes`` of them: lost ones go first (oldest
        loss first), then live ones (oldest write first)."""
        options = self.options
        while (
            len(self._live) + len(self._lost) > options.max_sessions
            or self._live_bytes + self._lost.bytes > options.max_bytes
        ):
            if self._lost.pop_oldest() is None:
                pid = next(iter(self._live))
                self._remove(pid)
            self.stats.evicted_sessions += 1

    # -- restore --------------------------------------------------------------------------------

    def restore(
        self,
        requester: str,
        namespace: str,
        pid: str,
        offset: str | None,
        now: float,
        max_bytes: int | None = None,
    ) -> HubRestore | None:
        """:meth:`find`, then :meth:`hand_over` what was found to ``requester``."""
        found = self.find(namespace, pid, offset, now, max_bytes)
        if found is not None:
            self.hand_over(found, requester, now)
        return found

    def find(
        self, namespace: str, pid: str, offset: str | None, now: float, max_bytes: int | None = None
    ) -> HubRestore | None:
        """The session ``pid`` of ``namespace`` and the broadcasts after ``offset`` (after the
        session's start when None) that it selects; None (counted as refused) when unknown,
        expired, of another namespace, handed over by a restore less than
        :data:`HAND_OVER_GUARD` ago and not written since, the offset was never given out, a
        packet the client may not have received was let go, or the answer (the session and the
        missed messages) would pass ``max_bytes``. Changes nothing else: :meth:`hand_over` (or
        :meth:`refuse`) follows."""
        found = self._select(namespace, pid, offset, now, max_bytes)
        if found is None:
            self.refuse()
        return found

    def _select(
        self, namespace: str, pid: str, offset: str | None, now: float, max_bytes: int | None
    ) -> HubRestore | None:
        self._lost.expire(now)
        self._log.trim(now)
        live = self._live.get(pid)
        if live is not None:
            session, lost_at = live, now
        else:
            kept = self._lost.get(pid)
            if kept is None:
                return None
            session, lost_at = kept
        if session.namespace != namespace:
            return None
        if session.handed_at is not None and now - session.handed_at < HAND_OVER_GUARD:
            return None
        entries = self._log.missed(session.state(), lost_at, offset, self.window)
        if entries is None:
            return None
        missed = [(format_offset(entry.key), entry.body) for entry in entries]
        size = session.size + sum(len(m) + RESTORE_OVERHEAD for _, m in missed)
        if max_bytes is not None and size > max_bytes:
            return None
        return HubRestore(session, missed)

    def refuse(self) -> None:
        """Count a restore refused."""
        self.stats.refused += 1

    def hand_over(self, found: HubRestore, requester: str, now: float) -> None:
        """The session found passes to ``requester`` (the worker that restores it): it is kept as
        lost from ``now`` until that worker writes it again, and writes from its old owner are
        ignored from now on. Counted as recovered."""
        session = found.session
        self._remove(session.pid)
        session.owner = requester
        session.handed_at = now
        self._lost.put(session.pid, session, now)
        self.stats.recovered += 1

    def snapshot(self, now: float) -> RecoveryStats:
        """The counters now (a copy): packets and bytes kept, sessions kept (live and lost)."""
        self._lost.expire(now)
        self._log.trim(now)
        return self._log.snapshot(sessions=len(self._live) + len(self._lost))
