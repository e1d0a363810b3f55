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
fresh copy, for the next call), with what this worker decided on its own added: restores it
refused without asking the hub (a pid, offset or namespace the hub's wire cannot carry: a client
can send anything) or after the hub's answer (unreadable, or not taken up by the server: the
client left meanwhile) count as ``refused`` (and not ``recovered``), sessions it could not write
(data msgpack cannot carry, names beyond the wire's limits) as ``evicted_sessions``.

A session the hub handed over by a restore that the server did not take up (the client left
while the restore was on its way) is written back to the hub as a lost session, so the client's
next attempt can still recover it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..adapters.base import EventPacket
from ..protocol.cluster import ClusterBroadcast, ClusterMessageError, decode_cluster, pack, unpack
from ..protocol.frames import Frame
from ..recovery.options import MAX_DURATION, RecoveryOptions
from ..recovery.store import RecoveryStats, Restored, SessionState
from .hubwire import MAX_FRAME, HubLimitError, RecoveryConfig, RestoreRequest, SessionRecord

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
        window = None if delivery_window is None else min(delivery_window, MAX_DURATION / 2)
        self.config = RecoveryConfig(
            options.max_disconnection_duration,
            options.max_packets,
            options.max_bytes,
            options.max_sessions,
            window,
        )
        #: Sessions this worker just restored, until the end of that step of the event loop: the
        #: server's ``discard`` that follows at once is not a delete (the hub passed the session to
        #: this worker; its next ``save_session`` writes it); one not discarded was not taken up.
        self._restored: dict[str, SessionRecord] = {}
        self._stats = RecoveryStats()
        #: What this worker decided on its own (see the module docstring).
        self._refused_here = 0
        self._unused_here = 0
        self._unkept_here = 0

    # -- the server's calls ---------------------------------------------------------------------

    def position(self) -> str | None:
        """The newest offset this worker knows of (see the module docstring)."""
        return self.driver.position

    def stamp(self, packet: EventPacket, selector: Selector) -> None:
        """Nothing: the adapter logs the broadcast through the hub, which gives the offset."""

    def _write(self, state: SessionState, lost: bool) -> None:
        """Write the session through; one that cannot be carried is dropped at the hub instead
        (refused later rather than restored with stale data)."""
        self._restored.pop(state.pid, None)
        try:
            data = pack(state.data)
            self.driver.send_session(
                SessionRecord(
                    state.pid, state.namespace, state.sid, tuple(state.rooms), state.start, data, lost
                )
            )
        except HubLimitError as exc:
            self._unkept(state, f"beyond the limits of the workers' hub: {exc}")
        except (TypeError, ValueError) as exc:
            self._unkept(state, f"its data cannot be encoded: {exc}")

    def _unkept(self, state: SessionState, why: str) -> None:
        logger.warning("a session cannot be kept for recovery (%s)", why)
        self._unkept_here += 1
        self.driver.send_drop(state.pid)

    def save_session(self, state: SessionState) -> None:
        """Write a connected socket's session to the hub (queued, never blocks)."""
        self._write(state, lost=False)

    def persist(self, state: SessionState) -> None:
        """The socket's connection was lost for a recoverable reason: the hub keeps the session for
        ``max_disconnection_duration`` from now."""
        self._write(state, lost=True)

    def discard(self, pid: str) -> None:
        """The socket ended for good: the hub forgets the session (right after a restore of it by
        this worker: nothing, the hub already passed it here)."""
        if self._restored.pop(pid, None) is not None:
            return
        self.driver.send_drop(pid)

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        """Ask the hub for the session ``pid`` and the broadcasts it missed; None if refused
        (without asking, for a request the hub's wire cannot carry)."""
        try:
            answer = await self.driver.request_restore(RestoreRequest(namespace, pid, offset))
        except HubLimitError as exc:
            logger.info("a restore refused: %s", exc)  # a client's pid or offset: not an error here
            self._refused_here += 1
            return None
        if answer is None:
            return None
        record, missed = answer
        try:
            data = unpack(record.data, max_bytes=MAX_FRAME)
            frames = self._frames(record.namespace, missed)
        except (ClusterMessageError, ValueError) as exc:
            logger.error("the hub's answer to a restore cannot be read: %s", exc)
            self._unused_here += 1
            return None
        self._restored[pid] = record
        asyncio.get_running_loop().call_soon(self._unclaimed, pid, record)
        state = SessionState(record.sid, record.pid, record.namespace, record.rooms, data, record.start)
        return Restored(state, frames)

    def _unclaimed(self, pid: str, record: SessionRecord) -> None:
        """The end of the step that restored ``pid``: if the server did not take the session up
        (no ``discard``, no write), it goes back to the hub as a lost session, and the restore
        counts as refused."""
        if self._restored.get(pid) is not record:
            return
        del self._restored[pid]
        self._unused_here += 1
        lost = SessionRecord(
            record.pid, record.namespace, record.sid, record.rooms, record.start, record.data, True
        )
        try:
            self.driver.send_session(lost)
        except HubLimitError:  # it came from the hub: it fits
            self.driver.send_drop(pid)

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
        """The hub's counters for this channel as last fetched (a fresh copy is asked for), with
        this worker's own decisions (see the module docstring)."""
        self.driver.ask_stats(self._took_stats)
        return self._with_own(self._stats)

    async def fetch_stats(self) -> RecoveryStats:
        """The hub's counters for this channel now, with this worker's own decisions."""
        self._stats = await self.driver.request_stats()
        return self._with_own(self._stats)

    def _with_own(self, hub: RecoveryStats) -> RecoveryStats:
        stats = RecoveryStats(**vars(hub))
        unused = min(self._unused_here, stats.recovered)
        stats.recovered -= unused
        stats.refused += self._refused_here + unused
        stats.evicted_sessions += self._unkept_here
        return stats

    def _took_stats(self, stats: RecoveryStats) -> None:
        self._stats = stats
