"""Admin events on their way to the admin namespace: queued by the observer's (synchronous) hooks,
sent in order by one task through the server's emit (so, with a cluster adapter, to the admins
connected to every server, as Node's admin-ui does).

The queue is bounded: when admins cannot be sent events as fast as the server produces them (a
busy server in development mode), the oldest waiting ones are dropped and counted, and a warning
is logged once per burst. The server itself never waits for the admin UI.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..server.server import AsyncServer

#: Admin events waiting to be sent, at most (then the oldest are dropped).
MAX_WAITING = 10_000


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
                    await self._sio.emit(event, args, namespace=self._namespace)
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
