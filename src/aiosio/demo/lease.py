"""Which server of a cluster runs the demo's price ticker: one per cluster, whatever its size.

With ``aiosio serve --workers N`` (or several demo servers sharing ``--redis``), every server has a
:class:`~.ticker.PriceTicker`; only one of them, the **leader**, steps the prices and broadcasts
ticks and stats (a broadcast reaches every server's clients). The others follow.

The mechanism is the cluster's own: every second each active server calls the others
(``server_side_call``, so it works over the workers' hub and over Redis alike, across machines)
with its :class:`Peer` state, and each answers with its own. The leader is the server with the
smallest id, an id that starts with the server's start time, so the oldest server leads, and
leads on while it lives. A server that stops says so (``server_side_emit``); one that dies is
forgotten after :data:`FORGET_AFTER` silent periods, and the next oldest takes over, from the
prices the leader last told (tick numbers are time slots: they go on increasing). A server that
has not polled its cluster yet does not lead, so a new server never ticks over an older leader.

A server on its own (no cluster) is its own leader: the calls return at once with no answers.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosio

__all__ = ["FORGET_AFTER", "Lease", "Peer"]

logger = logging.getLogger("aiosio.demo")

#: The server event the tickers call each other with, and the one a stopping ticker sends.
CALL_EVENT = "aiosio-demo:ticker"
LEAVE_EVENT = "aiosio-demo:ticker-leaving"
#: Periods without a word after which a server is taken for gone.
FORGET_AFTER = 3


@dataclass
class Peer:
    """What a ticker tells the others: who it is, how many clients it has, and (the leader's
    matter) the last tick number and prices."""

    id: str
    clients: int
    watchers: int
    seq: int
    prices: dict[str, float]

    def to_wire(self) -> dict[str, Any]:
        """The JSON-able form."""
        return {
            "id": self.id,
            "clients": self.clients,
            "watchers": self.watchers,
            "seq": self.seq,
            "prices": self.prices,
        }

    @classmethod
    def from_wire(cls, data: Any) -> Peer | None:
        """A peer from its JSON form; None if it is not one (another server's stray answer)."""
        if not isinstance(data, dict):
            return None
        try:
            prices = {str(k): float(v) for k, v in dict(data.get("prices") or {}).items()}
            return cls(str(data["id"]), int(data["clients"]), int(data["watchers"]), int(data["seq"]), prices)
        except (KeyError, TypeError, ValueError):
            return None


class Lease:
    """This server's view of the tickers of its cluster (see the module docstring).

    ``state`` returns this server's :class:`Peer` now; ``wake`` is called when another server
    calls (so an idle ticker starts following, or leading, at once).
    """

    def __init__(self, sio: aiosio.AsyncServer, interval: float) -> None:
        self.sio = sio
        self.interval = interval
        #: Sortable: the start time first (the oldest server leads), then random bytes.
        self.id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        #: The other servers heard from, with the loop time they were last heard from.
        self.peers: dict[str, tuple[Peer, float]] = {}
        #: Polls made once this server's cluster adapter was up (a server that has not polled
        #: its cluster yet cannot know whether an older one leads: it does not lead).
        self.polls = 0
        #: Polls in a row some server did not answer in time (see :meth:`poll`).
        self.incomplete = 0
        #: Set by :meth:`leave`: this server answers no more calls (it would be taken for alive).
        self.left = False
        self._state: Callable[[], Peer] | None = None
        self._wake: Callable[[], None] | None = None
        self._clock = time.monotonic

    def register(self, state: Callable[[], Peer], wake: Callable[[], None]) -> None:
        """Answer the other servers' calls with ``state()``, and call ``wake()`` on each call."""
        self._state, self._wake = state, wake
        self.sio.on_server_event(CALL_EVENT, self._on_call)
        self.sio.on_server_event(LEAVE_EVENT, self._on_leave)

    async def _on_call(self, data: Any) -> Any:
        if self.left:
            return None
        peer = Peer.from_wire(data)
        if peer is not None and peer.id != self.id:
            self.peers[peer.id] = (peer, self._clock())
            if self._wake is not None:
                self._wake()
        return self._state().to_wire() if self._state is not None else None

    async def _on_leave(self, peer_id: Any) -> None:
        self.peers.pop(str(peer_id), None)
        if self._wake is not None:
            self._wake()

    def _forget_silent(self) -> None:
        limit = self._clock() - FORGET_AFTER * self.interval
        for peer_id in [p for p, (_, seen) in self.peers.items() if seen < limit]:
            del self.peers[peer_id]

    @property
    def active(self) -> bool:
        """Whether another server was heard from lately (then an idle ticker keeps following)."""
        self._forget_silent()
        return bool(self.peers)

    async def poll(self, mine: Peer) -> None:
        """Tell the others this server's state and learn theirs (one call, bounded by half a
        period; a failure only means the peers are not refreshed this time).

        A poll counts (for :attr:`leader`) once every server answered: one that timed out may be
        an older leader on a slow link. After :data:`FORGET_AFTER` incomplete polls in a row it
        counts anyway (a server of the cluster that is not a demo never answers)."""
        answers: list[Any] = []
        # The adapter starts with the server's first client: before, a call reaches nobody.
        ready = bool(getattr(self.sio, "_adapter_ready", True))
        try:
            result = await self.sio.server_side_call(CALL_EVENT, mine.to_wire(), timeout=self.interval / 2)
            answers = list(result)
            missing = int(getattr(result, "missing", 0) or 0)
            self.incomplete = self.incomplete + 1 if missing else 0
            if ready and (not missing or self.incomplete >= FORGET_AFTER):
                self.polls += 1
        except Exception as exc:  # the adapter is down or closing: keep the last view
            logger.debug("the ticker's cluster poll failed: %s", exc)
        now = self._clock()
        for answer in answers:
            peer = Peer.from_wire(answer)
            if peer is not None and peer.id != self.id:
                self.peers[peer.id] = (peer, now)
        self._forget_silent()

    @property
    def leader(self) -> bool:
        """Whether this server runs the ticker: it has polled its cluster, and no other server
        it knows of is older."""
        return self.polls > 0 and all(self.id < other for other in self.peers)

    def leader_peer(self) -> tuple[Peer, float] | None:
        """The leader's last state and when it came (monotonic clock), if the leader is another
        server (that this server knows of)."""
        older = [p for p in self.peers if p < self.id]
        return self.peers[min(older)] if older else None

    def totals(self, mine: Peer) -> tuple[int, int]:
        """(clients, watchers) over the cluster, this server's as of now."""
        peers = [p for p, _ in self.peers.values()]
        return mine.clients + sum(p.clients for p in peers), mine.watchers + sum(p.watchers for p in peers)

    async def leave(self) -> None:
        """Tell the others this server stops (its successor need not wait for its silence); from
        now on it answers no call (an answer would make it alive again to its successor)."""
        self.left = True
        with contextlib.suppress(Exception):
            await self.sio.server_side_emit(LEAVE_EVENT, self.id)
