"""A Socket.IO server under test, started and stopped as an application would, without a port."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .binding import ready_for_this_loop
from .client import TestClient
from .environ import Query

if TYPE_CHECKING:
    from ..server.server import AsyncServer


async def connect(
    server: AsyncServer | TestServer,
    namespaces: str | Sequence[str] | None = None,
    auth: Any = None,
    headers: Mapping[str, str] | None = None,
    query: Query = None,
    *,
    transport: str | None = None,
    wait_timeout: float = 5.0,
    socketio_path: str = "socket.io",
) -> TestClient:
    """A :class:`TestClient` connected to ``server`` (an ``AsyncServer`` or a :class:`TestServer`;
    see :meth:`TestClient.connect` for the arguments and errors). Disconnect it with
    ``await client.disconnect()``, or use it as ``async with``."""
    client = TestClient(server, transport=transport, socketio_path=socketio_path)
    await client.connect(namespaces, auth=auth, headers=headers, query=query, wait_timeout=wait_timeout)
    return client


class TestServer:
    """``async with TestServer(sio) as server:`` runs ``sio`` as in production, minus the network.

    On entry the server starts as its aiohttp application would start it: the client manager's
    adapter ``init`` (a Redis adapter connects and subscribes); with ``app=`` (the aiohttp
    application ``sio`` is attached to), the application's own startup runs first (its
    ``on_startup`` handlers: background tasks, stores), through an :class:`aiohttp.web.AppRunner`
    with no site, so no port is opened. On exit the server shuts down (with ``app=``, the
    application's shutdown and cleanup, which include ``sio.shutdown()``), which closes every
    connection still open; then the clients made by :meth:`connect` are closed.

    A server that was stopped can be started again, also on another event loop (a module-level
    ``sio`` used by several tests, each with its own loop), unless its adapter is a cluster one
    (Redis): see :mod:`aiosio.testing.binding`.
    """

    __test__ = False  # not a test class, whatever pytest makes of the name

    def __init__(self, sio: AsyncServer, app: web.Application | None = None) -> None:
        self.sio = sio
        self.app = app
        #: The clients :meth:`connect` made, in order.
        self.clients: list[TestClient] = []
        self._runner: web.AppRunner | None = None
        self._started = False

    async def start(self) -> None:
        """Run the application's startup (with ``app=``) and the adapter's ``init``."""
        if self._started:
            return
        ready_for_this_loop(self.sio, restart=True)
        if self.app is not None:
            runner = web.AppRunner(self.app, handle_signals=False)
            try:
                await runner.setup()
            except BaseException:
                # What started before the failure (cleanup contexts, the adapter) is undone.
                await asyncio.shield(self._undo_failed_setup(runner))
                raise
            self._runner = runner
        self._started = True
        if not await self.sio._start_adapter():
            await self.stop()
            raise RuntimeError("the server's adapter failed to start (its error is logged)")

    async def _undo_failed_setup(self, runner: web.AppRunner) -> None:
        try:
            await runner.cleanup()
        finally:
            await self.sio.shutdown()

    async def connect(
        self,
        namespaces: str | Sequence[str] | None = None,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Query = None,
        *,
        transport: str | None = None,
        wait_timeout: float = 5.0,
        socketio_path: str = "socket.io",
    ) -> TestClient:
        """A new connected client (see :func:`connect`), disconnected when the server stops."""
        client = self.client(transport=transport, socketio_path=socketio_path)
        await client.connect(namespaces, auth=auth, headers=headers, query=query, wait_timeout=wait_timeout)
        return client

    def client(self, *, transport: str | None = None, socketio_path: str = "socket.io") -> TestClient:
        """A new client, not connected yet (to register handlers first), disconnected at stop."""
        client = TestClient(self.sio, transport=transport, socketio_path=socketio_path)
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        """Shut the server (or the application) down, as in production: connected clients see the
        server close their connection and its disconnect handlers get ``'server shutting down'``;
        then the clients' own tasks are stopped."""
        if not self._started:
            return
        self._started = False
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()  # the application's shutdown: sio.shutdown() if it is attached
            await self.sio.shutdown()  # a second call finds nothing left to close
        finally:
            clients, self.clients = self.clients, []
            errors: list[BaseException] = []
            for client in clients:
                try:
                    await client.close()
                except Exception as exc:  # every client is still closed; the first error is raised
                    errors.append(exc)
            if errors:
                raise errors[0]

    async def __aenter__(self) -> TestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
