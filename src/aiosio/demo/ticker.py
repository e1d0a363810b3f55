"""The demo's live prices: a background task broadcasting ticks to the ``prices`` room.

Pages (or ``aiosio client --emit join_prices --listen``) join the room to receive ``tick`` events
and leave it to stop them. Every second, everyone connected gets a ``stats`` event: how many
clients are connected, how many watch the prices, and how many ticks and tick messages the server
sent per second. Both are volatile emits: a client that cannot take one right now misses it, as
a ticker should (the next tick is newer anyway), instead of queueing stale prices.

The task costs nothing while nobody is connected (it waits on an event, with no timer), and
sends only the stats line while nobody is in the room.

In a cluster (``aiosio serve --workers N``, or servers sharing ``--redis``) one ticker leads
(:mod:`.lease`): it alone steps the prices and sends ticks and stats, with the cluster's totals;
the others keep their prices in step with it (what a joining client is sent) and take over if it
goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

import aiosio

from .lease import Lease, Peer
from .prices import PriceModel, RateMeter

__all__ = ["PRICES_ROOM", "STATS_INTERVAL", "TICK_INTERVAL", "PriceTicker"]

logger = logging.getLogger("aiosio.demo")

#: The room whose members receive ``tick`` events.
PRICES_ROOM = "prices"
#: Seconds between two ticks (5 per second).
TICK_INTERVAL = 0.2
#: Seconds between two ``stats`` events.
STATS_INTERVAL = 1.0


def _next(due: float, interval: float, now: float) -> float:
    """The time after ``due`` to act again: the steady cadence, but never a burst to catch up
    on times missed (while the room was empty, or the loop was busy)."""
    due += interval
    return due if due > now else now + interval


class PriceTicker:
    """Broadcasts :class:`~.prices.PriceModel` steps to :data:`PRICES_ROOM` while it has members.

    :meth:`start` and :meth:`stop` belong to the application's start-up and shutdown (see
    :func:`~.app.create_app`); :meth:`connected`, :meth:`disconnected`, :meth:`join` and
    :meth:`leave` are called by the Socket.IO handlers in :mod:`.realtime`.
    """

    def __init__(
        self,
        sio: aiosio.AsyncServer,
        model: PriceModel | None = None,
        *,
        tick_interval: float = TICK_INTERVAL,
        stats_interval: float = STATS_INTERVAL,
    ) -> None:
        """Tick ``model`` (default: a new :class:`~.prices.PriceModel`) through ``sio``."""
        self.sio = sio
        self.model = model if model is not None else PriceModel()
        self.tick_interval = tick_interval
        self.stats_interval = stats_interval
        #: Connected clients (sids of the default namespace) and those in the room.
        self.clients: set[str] = set()
        self.watchers: set[str] = set()
        #: Ticks broadcast so far (each one to every watcher).
        self.ticks = 0
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        #: Which server of the cluster leads (this one, without a cluster).
        self.lease = Lease(sio, stats_interval)
        self.lease.register(self._peer, self._wake.set)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the background task is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the background task (in the running event loop); a second call does nothing."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="aiosio-demo-ticker")

    async def stop(self) -> None:
        """Stop the background task and wait until it has finished (telling the cluster)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await self.lease.leave()

    @property
    def leading(self) -> bool:
        """Whether this server's ticker is the one that ticks (see :mod:`.lease`)."""
        return self.lease.leader

    def _peer(self) -> Peer:
        # Only the leader's prices matter to the others: a follower sends none.
        prices = dict(self.model.prices) if self.lease.leader else {}
        return Peer(self.lease.id, len(self.clients), len(self.watchers), self._seq, prices)

    def _follow(self) -> None:
        """Take the leader's prices and tick number (what a client joining here is sent)."""
        known = self.lease.leader_peer()
        if known is not None:
            leader = known[0]
            self.model.prices.update({s: p for s, p in leader.prices.items() if s in self.model.prices})
            self._seq = max(self._seq, leader.seq)

    # -- membership -------------------------------------------------------------------------

    def connected(self, sid: str) -> None:
        """A client connected: wake the task so that stats flow again."""
        self.clients.add(sid)
        self._wake.set()

    def disconnected(self, sid: str) -> None:
        """A client left (the server removes it from its rooms by itself)."""
        self.clients.discard(sid)
        self.watchers.discard(sid)

    async def join(self, sid: str) -> dict[str, Any]:
        """Put ``sid`` in the room; the acknowledgement carries the current prices."""
        await self.sio.enter_room(sid, PRICES_ROOM)
        self.watchers.add(sid)
        self._wake.set()
        return {"ok": True, "room": PRICES_ROOM, "interval": self.tick_interval, **self.model.snapshot()}

    async def leave(self, sid: str) -> dict[str, Any]:
        """Take ``sid`` out of the room: no more ticks for it."""
        self.watchers.discard(sid)
        await self.sio.leave_room(sid, PRICES_ROOM)
        return {"ok": True, "room": PRICES_ROOM}

    # -- the task ---------------------------------------------------------------------------

    async def _sleep_until(self, deadline: float) -> None:
        # Wakes early when someone joins, so a new watcher's first tick is not a second away.
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._wake.wait()

    async def _poll(self) -> None:
        """Poll the cluster: a follower waits for the answers (it may find it leads now); the
        leader polls in the background (a server slow to answer must not hold its ticks), its
        view of the others is then a period old."""
        if not self.lease.leader:
            await self.lease.poll(self._peer())
            return
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self.lease.poll(self._peer()), name="aiosio-demo-poll")
            self._poller.add_done_callback(lambda _: self._wake.set())  # it may lead no more

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ticks, messages = RateMeter(loop.time()), RateMeter(loop.time())
        next_tick = next_stats = loop.time()
        watching = 0  # the cluster's watchers, as of the last poll (and this server's now)
        while True:
            if not self.clients and not self.lease.active:
                # Nobody connected here nor heard of elsewhere: no timers at all until then.
                self._wake.clear()
                await self._wake.wait()
                next_tick = next_stats = loop.time()
                ticks.rate(next_tick)  # start new periods: the idle time is not a rate
                messages.rate(next_tick)
            now = loop.time()
            try:
                if now >= next_stats:
                    await self._poll()
                    self._follow()
                    clients, watching = self.lease.totals(self._peer())
                    if self.lease.leader:
                        await self._stats(ticks.rate(now), messages.rate(now), clients, watching)
                    next_stats = _next(next_stats, self.stats_interval, now)
                watching = max(watching, len(self.watchers))
                if watching and self.lease.leader and now >= next_tick:
                    await self._tick()
                    ticks.add()
                    messages.add(watching)
                    next_tick = _next(next_tick, self.tick_interval, now)
            except Exception:
                logger.exception("the price ticker failed; retrying")
                next_tick = next_stats = now + self.stats_interval
            deadline = min(next_tick, next_stats) if watching and self.lease.leader else next_stats
            await self._sleep_until(deadline)

    async def _tick(self) -> int:
        """Broadcast one tick; return how many clients it was sent to."""
        changes = self.model.step()
        # The tick's slot (of tick_interval) since the Unix epoch, and at least one more than the
        # last: numbers go on increasing when another server takes over, whoever knew the last.
        self._seq = max(self._seq + 1, math.floor(time.time() / self.tick_interval))
        self.ticks += 1
        payload = {"seq": self._seq, "ts": int(time.time() * 1000), "prices": changes}
        await self.sio.emit("tick", payload, to=PRICES_ROOM, volatile=True)
        return len(self.watchers)

    async def _stats(self, ticks_per_sec: float, msgs_per_sec: float, clients: int, watchers: int) -> None:
        payload = {
            "clients": clients,
            "watchers": watchers,
            "ticks_per_sec": ticks_per_sec,
            "msgs_per_sec": msgs_per_sec,
        }
        await self.sio.emit("stats", payload, volatile=True)
