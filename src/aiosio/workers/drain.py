"""How a worker of ``aiosio run --workers N`` stops: every client told by the server, none reset.

aiohttp's own shutdown stops listening first, then closes the idle keep-alive connections, then
lets the app close its sessions. A polling client between two requests, or one whose next request
is on its way, then finds no listener (or a connection closed under it) and sees a connection
error instead of the Engine.IO close. So a worker drains first (:func:`drain`), before aiohttp's
shutdown:

1. **Retiring** (SIGUSR1, a rolling restart: another worker already serves): it stops taking new
   connections at once. Its polling clients' next requests reach it anyway, handed over by the
   worker that accepted them. A request on a connection it still holds that is for no session of
   its own (a reconnecting client's handshake on a keep-alive connection, a page of the app) moves,
   connection and all, to a worker that is not retiring (:class:`Leaving`); what it answers
   itself closes its connection (``Connection: close``), so that no client reuses a connection
   it is about to close.
   **Stopping** (SIGTERM/SIGINT: every worker stops): it keeps accepting, since the clients'
   next requests have no other worker to go to; new handshakes are refused (the server is closing).
2. Its Socket.IO servers close every session (and refuse new ones): a waiting GET carries the Engine.IO
   CLOSE, a polling client between two GETs gets it on its next GET (the session's farewell), a
   WebSocket gets the CLOSE frame.
   A polling POST that races the close (sent before the client read its CLOSE) is acknowledged,
   not refused: the client is about to read the CLOSE, and would otherwise see the refusal first.
3. It waits until every farewell was collected (bounded by ``ping_timeout``, after which a farewell
   expires, and by ``--shutdown-timeout``).
4. It stops listening (when stopping: until now it accepted connections meant for the others'
   clients). The keep-alive connections still idle, and those just accepted that have not sent
   a byte yet, move to a worker that is not leaving (when stopping: one still draining),
   so none is closed while a client may be sending on it (clients share their connection pools:
   one client's idle connection may be another's next request). One holding part of a request
   stays (:mod:`~aiosio.workers.idle`); moving stops at the first the other worker does not take,
   and when the budget is spent. What the worker itself answers while it drains closes its
   connection (``Connection: close``). Then aiohttp's shutdown runs, with what is left of the
   budget for the requests still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from ..transport.server import AiohttpEngineTransport
from .idle import is_idle
from .routing import HandOff, Moved, parse_tag

__all__ = ["Leaving", "drain"]

logger = logging.getLogger("aiosio.workers")

#: The marker a worker that is leaving puts next to its sockets: the others hand it nothing more.
LEAVING_SUFFIX = "leaving"

Mode = Literal["retiring", "stopping"]


class Leaving:
    """How this worker is leaving (retiring, stopping, or not yet), and the middleware that serves
    its requests accordingly.

    ``runtime_dir`` holds every worker's sockets, ``own_id`` is this worker's id, ``prefix`` its
    sid prefix and ``hand_off`` its :class:`~aiosio.workers.routing.HandOff`.
    """

    def __init__(self, runtime_dir: str | Path, own_id: int, prefix: str, hand_off: HandOff) -> None:
        self.runtime_dir = Path(runtime_dir)
        self.own_id = own_id
        self.prefix = prefix
        self.hand_off = hand_off
        #: None while serving; "retiring" (replaced in a rolling restart) or "stopping".
        self.mode: Mode | None = None
        #: Requests and idle connections moved to other workers while leaving.
        self.moved = 0
        #: The sids of the sessions the drain closed (none until it runs).
        self.closed_sids: set[str] = set()

    def begin(self, mode: Mode) -> None:
        """Start leaving (the first call decides the mode)."""
        if self.mode is None:
            self.mode = mode

    def mark(self) -> None:
        """Tell the other workers to move nothing more here."""
        with contextlib.suppress(OSError):
            (self.runtime_dir / f"w{self.own_id}.{LEAVING_SUFFIX}").touch()

    def end(self) -> None:
        """Remove the marker (the worker is gone)."""
        with contextlib.suppress(OSError):
            os.unlink(self.runtime_dir / f"w{self.own_id}.{LEAVING_SUFFIX}")

    def successor(self) -> Path | None:
        """The hand-over socket of another worker that is not leaving (the newest), or None."""
        best: tuple[int, Path] | None = None
        for path in self.runtime_dir.glob("w*.fd"):
            worker_id = parse_tag(path.stem + ".")
            if worker_id is None or worker_id == self.own_id:
                continue
            if (self.runtime_dir / f"w{worker_id}.{LEAVING_SUFFIX}").exists():
                continue
            if best is None or worker_id > best[0]:
                best = (worker_id, path)
        return None if best is None else best[1]

    def _own(self, request: web.Request) -> bool:
        sid = request.query.get("sid")
        return sid is not None and sid.startswith(self.prefix)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """While leaving: a polling POST for a session closed by the drain is acknowledged (its
        packets dropped: the session is over, and the client is about to read its CLOSE; a 400
        would reach it first as an error); when retiring, a request that is not for one of this
        worker's sessions moves (connection and all) to a worker that is not leaving; the rest is
        answered with ``Connection: close``. Otherwise it is served as usual."""
        if self.mode is None:
            response = await handler(request)
            # A request that began before the worker started leaving (a GET waiting for packets)
            # closes its connection too if the answer comes after.
            return response if self.mode is None else _closing(response)
        if self.closed_sids and request.method == "POST":
            sid = request.query.get("sid")
            owner = getattr(request.match_info.route.handler, "__self__", None)
            engine = owner if isinstance(owner, AiohttpEngineTransport) else None
            if sid in self.closed_sids and engine is not None and engine.core.get(sid) is None:
                await request.read()
                headers = engine.origins.headers(request)
                return _closing(web.Response(body=b"ok", headers=headers, content_type="text/html"))
        if self.mode == "retiring" and not self._own(request):
            target = self.successor()
            outcome = None if target is None else await self.hand_off.links.send(request, target)
            if outcome == "moved":
                self.moved += 1
                return Moved()
            if outcome == "spoilt":  # its body is gone: refuse it, the client may send it again
                return _closing(web.Response(status=503, text="the worker is restarting, try again"))
        return _closing(await handler(request))

    async def move_idle(self, runner: web.AppRunner, deadline: float | None = None) -> int:
        """Move the keep-alive connections that wait for their next request to a worker that is
        not leaving; how many moved. A connection that has begun another request, or that cannot
        move, stays (aiohttp's shutdown closes it after its answer). It stops at ``deadline``
        (monotonic clock) and at the first connection the successor does not take (it is stuck
        or gone: the next would wait as long)."""
        server = runner.server
        target = self.successor()
        if server is None or target is None:
            return 0
        moved = 0
        for proto in list(server.connections):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            transport = proto.transport
            # No await between the check and send_idle's pause_reading: nothing is read meanwhile.
            if transport is None or not is_idle(runner, proto):
                continue
            sent = await self.hand_off.links.send_idle(transport, target, timeout=left)
            if sent is None:
                continue
            if not sent:
                break
            proto.force_close()
            moved += 1
        self.moved += moved
        return moved


def _closing(response: web.StreamResponse) -> web.StreamResponse:
    """``response`` with ``Connection: close`` (unless already sent): the client must not send
    another request on a connection this worker is about to close."""
    if not response.prepared:
        response.force_close()
    return response


def _farewells(servers: Iterable[Any]) -> int:
    """Farewell payloads (the CLOSE of polling sessions closed between two GETs) not collected yet."""
    return sum(len(getattr(s.eio.core, "_farewells", ())) for s in servers)


async def drain(
    runner: web.AppRunner,
    site: web.BaseSite,
    *,
    servers: list[Any],
    leaving: Leaving,
    timeout: float,
) -> None:
    """Close every session of ``servers`` while clients can still reach this worker; wait (up to
    ``timeout`` seconds, and each server's ``ping_timeout``) until every polling client collected
    its CLOSE; move the idle keep-alive connections on. See the module docstring for the order."""
    started = time.monotonic()
    leaving.begin("stopping")
    if leaving.mode == "retiring":
        leaving.mark()
        await site.stop()  # the other workers take the new connections
    for server in servers:
        leaving.closed_sids.update(server.eio.core.sessions)
    for server in servers:
        # Its sessions only (new ones refused): the server's own shutdown, which also closes its
        # cluster adapter, runs in aiohttp's shutdown, so the app's background tasks that emit
        # (stopped in on_shutdown) do not meet a closed adapter meanwhile.
        server._closing = True
        try:
            await server.eio.shutdown()
        except Exception:
            logger.exception("error while closing the sessions of %r", server)
    limit = min([timeout, *(s.eio.core.options.ping_timeout for s in servers)])
    deadline = started + limit
    while _farewells(servers) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    left = _farewells(servers)
    if left:
        logger.info("%d polling clients did not come back for their close within %.1f s", left, limit)
    leaving.mark()
    if site in runner.sites:
        # Stopping: no more connections now. One accepted in these last moments has not sent its
        # request yet (it was meant for another worker's client): it moves on with the idle ones.
        await site.stop()
        for _ in range(3):
            await asyncio.sleep(0)  # let the connections accepted just now be set up
    # What is left of the budget (at least a second: moving a connection takes microseconds).
    await leaving.move_idle(runner, max(started + timeout, time.monotonic() + 1.0))
    logger.debug("%s: %d requests and idle connections moved to other workers", leaving.mode, leaving.moved)
