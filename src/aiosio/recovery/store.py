"""What a recovery store keeps and the interface the server uses (one store per server).

The server calls the store when it sends an EVENT that can be replayed
(:meth:`RecoveryStore.stamp`), when a socket connects and whenever its rooms or session change
(:meth:`RecoveryStore.save_session`), when a connection is lost for a recoverable reason
(:meth:`RecoveryStore.persist`), when a client comes back with its ``pid``
(:meth:`RecoveryStore.restore`), and when a socket's session is over (:meth:`RecoveryStore.discard`:
taken up by a new socket, or its socket left for a reason that is not recoverable).
:class:`~aiosio.recovery.memory.MemoryStore` keeps everything in this process.

A store on a cluster's shared log (the seam: :class:`~aiosio.adapters.cluster.LoggedDriver`, e.g.
:class:`~aiosio.recovery.redis_streams.RedisStreamsStore`) keeps the same shapes: offsets are
given by the log as the adapter appends each broadcast (so ``stamp`` does nothing), sessions are
written through (``save_session`` and ``persist`` queue a write, ``discard`` a delete, never
blocking) so that a node killed outright leaves its sessions behind, live ones refreshed so they
do not expire while their socket is connected, and ``restore`` reads the session and the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..adapters.base import EventPacket, Selector
from ..protocol.frames import Frame

#: Why a connection (an Engine.IO session) ended, for which the sockets still on it keep their
#: sessions: Node's RECOVERABLE_DISCONNECT_REASONS in aiosio's words. ``server disconnect`` at the
#: Engine.IO level is Node's ``forced close``; ``client disconnect`` there is an Engine.IO CLOSE from
#: the client (Node's client sends one when its polling transport fails), which Node reports as
#: ``transport close``. A namespace disconnect by either side (a client's ``disconnect()`` sends
#: one per namespace first) is never recoverable.
RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "ping timeout",
        "server shutting down",
        "server disconnect",
        "client disconnect",
    }
)


@dataclass
class SessionState:
    """What a recovered socket gets back: Node's ``{sid, pid, rooms, data}``, plus the namespace
    and the offset recovery starts from when the client sends none (``start``: the newest offset
    when the socket connected, or None if nothing had been kept yet)."""

    sid: str
    pid: str
    namespace: str
    rooms: tuple[str, ...]
    data: Any
    start: str | None = None


@dataclass
class Restored:
    """A successful restore: the session and the packets the client missed, in order (each the
    frames of one EVENT, offset included)."""

    session: SessionState
    missed: list[Sequence[Frame]] = field(default_factory=list)


@dataclass
class RecoveryStats:
    """Counters of a store (``sio.recovery_stats()``): what it keeps now, what it let go."""

    #: Packets and their encoded bytes kept now.
    packets: int = 0
    bytes: int = 0
    #: Sessions kept now (in memory: disconnected ones; on a cluster's log connected ones too).
    sessions: int = 0
    #: Packets dropped by the count or byte bound, and by age.
    evicted_packets: int = 0
    evicted_bytes: int = 0
    expired_packets: int = 0
    #: Sessions dropped because they were too old, or by the session bound.
    expired_sessions: int = 0
    evicted_sessions: int = 0
    #: Restores that succeeded, and those refused (unknown or expired pid, unknown offset, a
    #: packet the client needs was evicted).
    recovered: int = 0
    refused: int = 0


class RecoveryStore(Protocol):
    """The server's view of a recovery store (see the module docstring)."""

    def position(self) -> str | None:
        """The newest offset given out (None if none yet): where a socket connecting now starts."""
        ...

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """A replayable EVENT (no ack, not volatile) is about to go out to ``selector``: give it its
        offset (``packet.offset``, encoded as its last argument) and keep it. Called once per
        emit, before delivery."""
        ...

    def save_session(self, state: SessionState) -> None:
        """A socket connected (recovered or not), or the rooms or session data of a connected
        socket changed (a store that survives this process writes it through and keeps it from
        expiring while the socket is connected; the memory store needs nothing). Must not block."""
        ...

    def persist(self, state: SessionState) -> None:
        """A socket's connection was lost for a recoverable reason: keep its session for
        ``max_disconnection_duration``. Must not block (a remote store queues the write)."""
        ...

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """The session ``pid`` and the packets after ``offset`` (or after the session's start when
        None) that its rooms select, or None if it cannot be recovered exactly."""
        ...

    def discard(self, pid: str) -> None:
        """The session ``pid`` was taken up by a new socket, or its socket left for a reason that
        is not recoverable: forget it. Must not block."""
        ...

    def stats(self) -> RecoveryStats:
        """The store's counters now."""
        ...
