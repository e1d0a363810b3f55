"""``server_stats``: what one server tells every admin each ``server_stats_interval`` seconds.

The report is Node's: ``serverId``, ``hostname``, ``pid``, ``uptime`` (seconds since
``instrument()``), ``clientsCount`` (Engine.IO connections), ``pollingClientsCount`` (those
still on long-polling), ``aggregatedEvents`` (see :mod:`.events`) and ``namespaces``
(``{name, socketsCount}``, this server's sockets). Building it reads counts the server already
keeps; the one walk is over the open connections, to count the polling ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..adapters.cluster import ClusterAdapter
from ..server.cluster import AdapterHostView
from ..server.observe import Traffic, traffic
from .events import EventBuffer

if TYPE_CHECKING:
    from ..server.server import AsyncServer

HOSTNAME = socket.gethostname()


def default_server_id(sio: AsyncServer) -> str:
    """The manager's ``host_id`` if it has one (python-socketio's default), else the host name, with
    ``#pid`` added when the server is one of several (a cluster adapter such as AsyncRedisManager's,
    or a ``sid_prefix`` as the workers of ``aiosio serve --workers`` have), as Node's admin-ui does for
    a cluster worker: the UI tells servers apart by this id."""
    host_id = getattr(sio.manager, "host_id", None)
    if isinstance(host_id, str) and host_id:
        return host_id
    if sio.options.sid_prefix or isinstance(sio.manager.adapter, ClusterAdapter):
        return f"{HOSTNAME}#{os.getpid()}"
    return HOSTNAME


def namespaces_of(sio: AsyncServer) -> list[str]:
    """The namespaces this server serves or has sockets in (Node's ``io._nsps``), sorted."""
    names = set(AdapterHostView(sio).served_namespaces())
    names.update(sio.manager.get_namespaces())
    return sorted(names)


class StatsReporter:
    """Builds the ``server_stats`` report and sends it on a timer."""

    def __init__(self, sio: AsyncServer, server_id: str, interval: float, buffer: EventBuffer) -> None:
        self._sio = sio
        self._base = {"serverId": server_id, "hostname": HOSTNAME, "pid": os.getpid()}
        self._interval = interval
        self._buffer = buffer
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        #: Set to end the wait between two reports early (the server is shutting down).
        self._wake: asyncio.Event | None = None
        #: The traffic totals at the last report (the report carries what was added since).
        self._traffic: Traffic | None = None
        self._traffic_failed = False

    def _count_traffic(self) -> None:
        """Packets and bytes in and out since the last report, into the event buffer."""
        try:
            now = traffic(self._sio)
        except Exception:  # the rest of the report still goes out
            if not self._traffic_failed:
                self._traffic_failed = True
                self._sio.logger.exception("admin UI: could not read the traffic counters")
            return
        last, self._traffic = self._traffic, now
        if last is None:
            return
        push = self._buffer.push
        push("packetsIn", None, now.packets_in - last.packets_in)
        push("packetsOut", None, now.packets_out - last.packets_out)
        push("bytesIn", None, now.bytes_in - last.bytes_in)
        push("bytesOut", None, now.bytes_out - last.bytes_out)

    def report(self) -> dict[str, Any]:
        """The ``server_stats`` payload now (empties the event buffer)."""
        sio = self._sio
        self._count_traffic()
        sessions = sio.eio.sockets
        polling = 0
        for session in sessions.values():
            if session.transport == "polling":
                polling += 1
        adapter = sio.manager.adapter
        namespaces = [
            {"name": name, "socketsCount": len(adapter.participants(name, None))}
            for name in namespaces_of(sio)
        ]
        return {
            **self._base,
            "uptime": time.monotonic() - self._started,
            "clientsCount": len(sessions),
            "pollingClientsCount": polling,
            "aggregatedEvents": self._buffer.take(),
            "namespaces": namespaces,
        }

    @property
    def running(self) -> bool:
        """True while the timer runs."""
        return self._task is not None and not self._task.done()

    def start(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Send ``report()`` through ``send`` (an async callable) now and every interval after."""
        if not self.running:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(send, self._wake))

    def wake(self) -> None:
        """End the current wait at once (the timer then stops if the server is shutting down)."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self, send: Callable[[dict[str, Any]], Awaitable[None]], wake: asyncio.Event) -> None:
        failing = False
        while not self._sio._closing:  # the server's shutdown ends the reports too
            try:
                await send(self.report())
                failing = False
            except Exception:
                if not failing:  # once per run of failures
                    self._sio.logger.exception("admin UI: could not send server_stats")
                failing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await wake.wait()
            wake.clear()

    async def stop(self) -> None:
        """Stop the timer (and wait for it)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
