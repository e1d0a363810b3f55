"""``sio.instrument()``: the Socket.IO Admin UI on an aiosio server (python-socketio's
``InstrumentedAsyncServer``, speaking the protocol of Node's ``@socket.io/admin-ui`` 0.5).

The admin namespace (``/admin`` by default) is an ordinary namespace of the server. An admin that
connects (see :mod:`.auth`) is sent ``config`` (the features the UI may offer), in development
mode ``all_sockets`` (every socket of every server of the cluster), and every
``server_stats_interval`` seconds each server's ``server_stats``. What happens on the server
reaches it through the server's observer seam (:mod:`.observer`); nothing of the server is
replaced or wrapped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..exceptions import ConnectionRefusedError
from .auth import AdminAuth
from .events import EventBuffer
from .observer import DevelopmentObserver, ProductionObserver, describe_local
from .operations import OPERATION_FEATURES, Operations
from .outbox import Outbox
from .serialize import node_admin_fields, socket_record
from .stats import StatsReporter, default_server_id, namespaces_of

if TYPE_CHECKING:
    from ..server.remote import RemoteSocket
    from ..server.server import AsyncServer

MODES = ("development", "production")


class InstrumentedAsyncServer:
    """An :class:`~aiosio.AsyncServer` reporting to the Socket.IO Admin UI (what
    :meth:`AsyncServer.instrument` returns). ``await instrumented.shutdown()`` stops the reports;
    :meth:`uninstrument` also takes the observer off the server."""

    def __init__(
        self,
        sio: AsyncServer,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError(f"namespace must be a namespace name starting with '/', not {namespace!r}")
        if not isinstance(server_stats_interval, (int, float)) or not server_stats_interval > 0:
            raise ValueError(
                f"server_stats_interval must be a positive number of seconds, not {server_stats_interval!r}"
            )
        self.sio = sio
        self.auth = auth
        self._auth = AdminAuth(auth)
        self.mode = mode
        self.read_only = read_only
        self.admin_namespace = namespace
        self.server_id = server_id or default_server_id(sio)
        self.server_stats_interval = server_stats_interval
        self.event_buffer = EventBuffer()
        self._outbox = Outbox(sio, namespace)
        self._stats = StatsReporter(sio, self.server_id, server_stats_interval, self.event_buffer)
        self._stopped = False
        self._tasks: set[asyncio.Task[Any]] = set()
        features = [] if read_only else list(OPERATION_FEATURES)
        features.append("AGGREGATED_EVENTS")
        if mode == "development":
            features.append("ALL_EVENTS")
        #: What the UI is told it may show and do (``config.supportedFeatures``).
        self.supported_features = features
        self.observer: ProductionObserver
        if mode == "development":
            self.observer = DevelopmentObserver(
                sio, self.event_buffer, self._ensure_started, self._outbox, namespace
            )
        else:
            self.observer = ProductionObserver(self.event_buffer, self._ensure_started)
        self.instrument()

    def instrument(self) -> None:
        """Serve the admin namespace and start observing the server (done by the constructor)."""
        sio = self.sio
        sio.on("connect", self.admin_connect, namespace=self.admin_namespace)
        if not self.read_only:
            Operations(sio).register(self.admin_namespace)
        sio.observers.add(self.observer)
        self._stopped = False
        self._outbox.open()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the first connection
        self._ensure_started()

    def uninstrument(self) -> None:
        """Stop observing the server (the admin namespace's handlers stay; reports stop at
        :meth:`shutdown`)."""
        self.sio.observers.remove(self.observer)

    async def shutdown(self) -> None:
        """Stop sending ``server_stats`` and admin events (python-socketio's ``shutdown``)."""
        self._stopped = True
        await self._stats.stop()
        await self._outbox.close()
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _ensure_started(self) -> None:
        if not self._stopped and not self._stats.running and not self.sio._closing:
            self._stats.start(self._send_stats)

    async def _send_stats(self, report: dict[str, Any]) -> None:
        await self.sio.emit("server_stats", report, namespace=self.admin_namespace)

    # -- the admin namespace ------------------------------------------------------------------------

    async def admin_connect(self, sid: str, environ: dict[str, Any], client_auth: Any = None) -> None:
        """The admin namespace's ``connect`` handler: check the credentials, then send ``config``
        (and, in development mode, ``all_sockets`` once they are fetched)."""
        auth = self._auth
        session_id: str | None = None
        if auth.enabled and not auth.has_session(client_auth):
            if not await auth.check(client_auth):
                raise ConnectionRefusedError("invalid credentials")
            session_id = auth.new_session()
        ns = self.admin_namespace
        # Sent after the CONNECT reply (the server holds a socket's packets until then).
        if session_id is not None:
            await self.sio.emit("session", session_id, to=sid, namespace=ns)
        await self.sio.emit("config", {"supportedFeatures": self.supported_features}, to=sid, namespace=ns)
        self._ensure_started()
        if self.mode == "development":
            task = asyncio.get_running_loop().create_task(self._send_all_sockets(sid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_all_sockets(self, sid: str) -> None:
        try:
            records = await self.all_sockets()
            await self.sio.emit("all_sockets", records, to=sid, namespace=self.admin_namespace)
        except Exception:
            self.sio.logger.exception("admin UI: could not send all_sockets")

    async def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace on every server (``fetch_sockets``), as the UI's
        ``all_sockets`` lists them."""
        names = namespaces_of(self.sio)
        found = await asyncio.gather(*(self.sio.fetch_sockets(namespace=name) for name in names))
        records: list[dict[str, Any]] = []
        for sockets in found:
            records.extend(self._describe(remote) for remote in sockets)
        return records

    def _describe(self, remote: RemoteSocket) -> dict[str, Any]:
        sock = self.sio._socket_in(remote.sid, remote.namespace) if remote.local else None
        if sock is not None:
            return describe_local(self.sio, sock)
        client_id, transport = node_admin_fields(remote.data)
        return socket_record(
            remote.sid,
            remote.namespace,
            client_id,
            transport or "websocket",
            remote.data,
            remote.handshake,
            sorted(remote.rooms, key=lambda room: room != remote.sid),
        )
