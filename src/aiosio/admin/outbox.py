"""Admin events on their way to the admin namespace: queued by the observer's (synchronous) hooks,
sent in order by one task through the server's emit (so, with a cluster adapter, to the admins
connected to every server, as Node's admin-ui does).

The queue is bounded: when admins cannot be sent events as fast as the server produces them (a
busy server in development mode), the oldest waiting ones are dropped and counted, and a warning
is logged once per burst. The server itself never waits for the admin UI.

Admin traffic is not the app's: it never goes through connection-state recovery
(:func:`broadcast_unlogged`, :func:`send_unlogged`), so it takes nothing of the recovery log's
budget, and what goes to one admin (its session id) never leaves this process.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from ..adapters.base import EVERYONE, EventPacket

if TYPE_CHECKING:
    from ..server.server import AsyncServer

#: Admin events waiting to be sent, at most (then the oldest are dropped).
MAX_WAITING = 10_000


async def broadcast_unlogged(sio: AsyncServer, namespace: str, event: str, args: tuple[Any, ...]) -> None:
    """Emit to every socket of ``namespace`` on every server, through the adapter (as
    ``sio.emit`` would) but never stamped into the recovery log."""
    await sio._adapter.broadcast(EventPacket(namespace, event, args, sio._encode), EVERYONE)


def send_unlogged(sio: AsyncServer, sid: str, namespace: str, event: str, args: tuple[Any, ...]) -> None:
    """Emit to one socket of this server, straight to its connection (never logged, never
    through the adapter); nothing if it is not here."""
    sock = sio._socket_in(sid, namespace)
    if sock is not None and not sock.gone:
        sock.deliver(sio._encode(namespace, event, args, None))


class Outbox:
    """The admin namespace's outgoing events, sent in the order they were put."""

    def __init__(self, sio: AsyncServer, namespace: str, limit: int = MAX_WAITING) -> None:
        self._sio = sio
        self._namespace = namespace
        self._queue: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._limit = limit
        self._task: asyncio.Task[None] | None = None
        self._warned = False
        #: Events dropped because the queue was full (since the start).
        self.dropped = 0
        #: Closed: events put are dropped (see :meth:`close` and :meth:`open`).
        self.closed = False

    def put(self, event: str, args: tuple[Any, ...]) -> None:
        """Queue ``event`` for every admin (never blocks); needs a running loop."""
        if self.closed:
            return
        queue = self._queue
        if len(queue) >= self._limit:
            queue.popleft()
            self.dropped += 1
            if not self._warned:
                self._warned = True
                self._sio.logger.warning(
                    "admin UI: events are produced faster than they can be sent; dropping the oldest"
                )
        queue.append((event, args))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        queue = self._queue
        try:
            while queue:
                event, args = queue.popleft()
                try:
                    await broadcast_unlogged(self._sio, self._namespace, event, args)
                except Exception:
                    self._sio.logger.exception("admin UI: could not send %r", event)
                if not queue:
                    # Let events produced in this loop turn join the batch before the task ends.
                    await asyncio.sleep(0)
        finally:
            self._task = None
            if not queue:
                self._warned = False

    def open(self) -> None:
        """Take events again after :meth:`close`."""
        self.closed = False

    async def close(self) -> None:
        """Stop: what is still queued is dropped, and so is what is put until :meth:`open`."""
        self.closed = True
        self._queue.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
