"""``HubStore``: a worker's connection-state recovery store, kept by the supervisor's hub.

The store of :meth:`LocalDriver.recovery_store <aiosio.workers.local_driver.LocalDriver.recovery_store>`
(the seam's :class:`~aiosio.adapters.cluster.LoggedDriver`). The hub keeps the log of the machine
(:mod:`~aiosio.workers.hub_log`): it gives each logged broadcast its offset, and holds the sessions,
which this store writes through as they change, so the sessions of a worker that is killed are
still there when its clients come back on another worker. A restore is a request to the hub.

``stamp`` does nothing (the adapter logs each broadcast through the driver). ``position`` is the
newest offset this worker knows of in its channel (where the hub's log was when the worker joined,
then every offset it saw since): never newer than the hub's, so a session that starts there never
skips an event; what it may add are events still on their way to this worker when the socket
connected, which the socket would have been given on their arrival. ``stats`` is the hub's
counters as last fetched (:meth:`HubStore.fetch_stats` fetches them; ``stats`` also asks for a
fresh copy, for the next call).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..adapters.base import EventPacket
from ..protocol.cluster import ClusterBroadcast, ClusterMessageError, decode_cluster, pack, unpack
from ..protocol.frames import Frame
from ..recovery.options import RecoveryOptions
from ..recovery.store import RecoveryStats, Restored, SessionState
from .hubwire import RecoveryConfig, RestoreRequest, SessionRecord

if TYPE_CHECKING:
    from ..adapters.base import Selector
    from .local_driver import LocalDriver

__all__ = ["HubStore"]

logger = logging.getLogger("aiosio.workers")


class HubStore:
    """A :class:`~aiosio.recovery.RecoveryStore` whose log and sessions the hub keeps (see the
    module docstring)."""

    def __init__(self, driver: LocalDriver, options: RecoveryOptions, delivery_window: float | None) -> None:
        self.driver = driver
        self.options = options
        self.config = RecoveryConfig(
            options.max_disconnection_duration,
            options.max_packets,
            options.max_bytes,
            options.max_sessions,
            delivery_window,
        )
        #: Pids this worker just restored: the server's ``discard`` that follows is not a delete
        #: (the hub passed the session to this worker; its next ``save_session`` writes it).
        self._restored: set[str] = set()
        self._stats = RecoveryStats()

    # -- the server's calls ---------------------------------------------------------------------

    def position(self) -> str | None:
        """The newest offset this worker knows of (see the module docstring)."""
        return self.driver.position

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """Nothing: the adapter logs the broadcast through the hub, which gives the offset."""

    def _record(self, state: SessionState, lost: bool) -> SessionRecord | None:
        try:
            data = pack(state.data)
        except (TypeError, ValueError) as exc:
            logger.warning("a session cannot be kept for recovery (its data cannot be encoded): %s", exc)
            return None
        return SessionRecord(
            state.pid, state.namespace, state.sid, tuple(state.rooms), state.start, data, lost
        )

    def save_session(self, state: SessionState) -> None:
        """Write a connected socket's session to the hub (queued, never blocks)."""
        self._restored.discard(state.pid)
        record = self._record(state, lost=False)
        if record is None:
            self.driver.send_drop(state.pid)  # refused later rather than restored with stale data
        else:
            self.driver.send_session(record)

    def persist(self, state: SessionState) -> None:
        """The socket's connection was lost for a recoverable reason: the hub keeps the session for
        ``max_disconnection_duration`` from now."""
        self._restored.discard(state.pid)
        record = self._record(state, lost=True)
        if record is None:
            self.driver.send_drop(state.pid)
        else:
            self.driver.send_session(record)

    def discard(self, pid: str) -> None:
        """The socket ended for good: the hub forgets the session (right after a restore of it by
        this worker: nothing, the hub already passed it here)."""
        if pid in self._restored:
            self._restored.discard(pid)
            return
        self.driver.send_drop(pid)

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """Ask the hub for the session ``pid`` and the broadcasts it missed; None if refused."""
        answer = await self.driver.request_restore(RestoreRequest(namespace, pid, offset))
        if answer is None:
            return None
        record, missed = answer
        try:
            data = unpack(record.data)
            frames = self._frames(record.namespace, missed)
        except (ClusterMessageError, ValueError) as exc:
            logger.error("the hub's answer to a restore cannot be read: %s", exc)
            return None
        self._restored.add(pid)
        state = SessionState(record.sid, record.pid, record.namespace, record.rooms, data, record.start)
        return Restored(state, frames)

    def _frames(self, namespace: str, missed: list[tuple[str, bytes]]) -> list[Sequence[Frame]]:
        encoder = self.driver.encoder()
        out: list[Sequence[Frame]] = []
        for offset, payload in missed:
            message = decode_cluster(payload)
            if not isinstance(message, ClusterBroadcast) or message.request_id is not None:
                raise ValueError("a logged message is not a broadcast")
            event, *args = message.packet.data
            if not isinstance(event, str):
                raise ValueError("a logged broadcast has no event name")
            packet = EventPacket(namespace, event, tuple(args), encoder)
            packet.offset = offset
            out.append(packet.frames())
        return out

    def stats(self) -> RecoveryStats:
        """The hub's counters for this channel as last fetched (a fresh copy is asked for)."""
        self.driver.ask_stats(self._took_stats)
        return RecoveryStats(**vars(self._stats))

    async def fetch_stats(self) -> RecoveryStats:
        """The hub's counters for this channel now."""
        self._stats = await self.driver.request_stats()
        return RecoveryStats(**vars(self._stats))

    def _took_stats(self, stats: RecoveryStats) -> None:
        self._stats = stats
