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
can be driven with a fake clock. The log and the session shelf are :mod:`.log`'s, shared with the
workers' hub.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from ..adapters.base import EventPacket, Selector
from ..protocol.frames import Frame
from .log import LogEntry, LostSessions, PacketLog
from .offsets import format_offset
from .options import RecoveryOptions
from .store import RecoveryStats, Restored, SessionState

#: Bytes counted for each kept packet besides its payloads (the entry, its frames, the selector).
ENTRY_OVERHEAD = 200


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
        self._stats = RecoveryStats()
        self._log: PacketLog[list[Frame]] = PacketLog(options, self._stats)
        #: pid -> (session, when its connection was lost), oldest first.
        self._sessions: LostSessions[SessionState] = LostSessions(options, self._stats)

    @property
    def _packets(self) -> deque[LogEntry[list[Frame]]]:
        return self._log.entries

    # -- packets --------------------------------------------------------------------------------

    def position(self) -> str | None:
        """The newest offset given out, or None."""
        return self._log.position()

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """Give the packet the next offset, encode it (once, for every recipient) and keep it."""
        now = self._clock()
        log = self._log
        key = log.next_key(now)
        packet.offset = format_offset(key)
        frames = [Frame(f.payload, f.binary) for f in packet.frames()]
        size = ENTRY_OVERHEAD + sum(len(f.payload) for f in frames)
        entry = LogEntry(
            key, packet.namespace, selector.rooms, selector.exclude, selector.sids, frames, size, now
        )
        log.append(entry, now)

    # -- sessions -------------------------------------------------------------------------------

    def save_session(self, state: SessionState) -> None:
        """Nothing to do: a connected socket's state lives in the server, and dies with it."""

    def persist(self, state: SessionState) -> None:
        """Keep a disconnected socket's session until ``max_disconnection_duration`` from now."""
        self._sessions.put(state.pid, state, self._clock())

    def discard(self, pid: str) -> None:
        """Forget the session ``pid`` (a new socket took it up)."""
        self._sessions.pop(pid)

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """See :meth:`lookup` (this store answers at once)."""
        return self.lookup(namespace, pid, offset)

    def lookup(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """The session ``pid`` of ``namespace`` and the packets after ``offset`` (after the
        session's start when None) that it selects; None when that cannot be exact: unknown or
        expired session, an offset this store never gave out, or a packet after it let go."""
        now = self._clock()
        self._sessions.expire(now)
        self._log.trim(now)
        kept = self._sessions.get(pid)
        if kept is None or kept[0].namespace != namespace:
            self._stats.refused += 1
            return None
        state, lost_at = kept
        found = self._log.missed(state, lost_at, offset, self._delivery_window)
        if found is None:
            self._stats.refused += 1
            return None
        missed: list[Sequence[Frame]] = [entry.body for entry in found]
        self._stats.recovered += 1
        return Restored(state, missed)

    def stats(self) -> RecoveryStats:
        """The counters now (a copy)."""
        return self._log.snapshot(sessions=len(self._sessions))
