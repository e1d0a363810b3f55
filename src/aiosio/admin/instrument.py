"""``sio.instrument()``: the Socket.IO Admin UI on an aiosio server (python-socketio's
``InstrumentedAsyncServer``, speaking the protocol of Node's ``@socket.io/admin-ui`` 0.5).

The admin namespace (``/admin`` by default) is an ordinary namespace of the server. An admin that
connects (see :mod:`.auth`) is sent ``config`` (the features the UI may offer), in development
mode ``all_sockets`` (every socket of every server of the cluster), and every
``server_stats_interval`` seconds each server's ``server_stats``. What happens on the server
reaches it through the server's observer seam (:mod:`.observer`); nothing of the server is
replaced or wrapped.

Only admins the connect handler let in hear anything or may act: the admin namespace's CONNECT
reply always waits for that handler (``always_connect`` does not apply to it), and the operations
are handled only for the sids it admitted.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..adapters.base import SocketInfo
from ..adapters.cluster import ClusterAdapter
from ..exceptions import ConnectionRefusedError
from .auth import AdminAuth
from .events import EventBuffer
from .observer import DevelopmentObserver, ProductionObserver, describe_local
from .operations import OPERATION_FEATURES, Operations
from .outbox import Outbox, broadcast_unlogged, send_unlogged
from .serialize import node_admin_fields, socket_record, with_admin_entry
from .stats import StatsReporter, default_server_id, namespaces_of

if TYPE_CHECKING:
    from ..server.remote import RemoteSocket
    from ..server.server import AsyncServer

MODES = ("development", "production")


class InstrumentedAsyncServer:
    """An :class:`~aiosio.AsyncServer` reporting to the Socket.IO Admin UI (what
    :meth:`AsyncServer.instrument` returns; the arguments are python-socketio's, in its order).

    ``await instrumented.shutdown()`` stops everything it does for the server (reports, counting,
    observing); :meth:`instrument` starts it again. :meth:`uninstrument` only stops observing the
    server (no socket or event reports, no connection counts); ``server_stats`` go on until
    :meth:`shutdown`, as in python-socketio. The admin namespace's handlers stay in both cases.
    """

    def __init__(
        self,
        sio: AsyncServer,
        auth: Any = None,
        namespace: str = "/admin",
        read_only: bool = False,
        server_id: str | None = None,
        mode: str = "development",
        server_stats_interval: float = 2,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError(f"namespace must be a namespace name starting with '/', not {namespace!r}")
        if (
            isinstance(server_stats_interval, bool)
            or not isinstance(server_stats_interval, (int, float))
            or not server_stats_interval > 0
        ):
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
        #: The sids of this server's admins the connect handler let in (until they disconnect).
        self.admitted: set[str] = set()
        features = [] if read_only else list(OPERATION_FEATURES)
        features.append("AGGREGATED_EVENTS")
        if mode == "development":
            features.append("ALL_EVENTS")
        #: What the UI is told it may show and do (``config.supportedFeatures``).
        self.supported_features = features
        self.observer: ProductionObserver
        if mode == "development":
            self.observer = DevelopmentObserver(
                sio, self.event_buffer, self._ensure_started, self._outbox, namespace, self._stats.wake
            )
        else:
            self.observer = ProductionObserver(self.event_buffer, self._ensure_started, self._stats.wake)
        self.instrument()

    def instrument(self) -> None:
        """Serve the admin namespace and start observing the server (done by the constructor;
        again after :meth:`shutdown` or :meth:`uninstrument`)."""
        sio = self.sio
        ns = self.admin_namespace
        sio._accept_after_handler = sio._accept_after_handler | {ns}
        sio.on("connect", self.admin_connect, namespace=ns)
        sio.on("disconnect", self.admin_disconnect, namespace=ns)
        if not self.read_only:
            Operations(sio, self.admitted, ns).register()
        self._observe(True)
        self._stopped = False
        self._outbox.open()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the first connection
        self._ensure_started()

    def _observe(self, on: bool) -> None:
        """Observe the server (and describe its sockets in its fetch answers) or stop."""
        adapter = self.sio.manager.adapter
        if on:
            self.sio.observers.add(self.observer)
            self._hook_answers()
        else:
            self.sio.observers.remove(self.observer)
            if isinstance(adapter, ClusterAdapter) and adapter.answer_socket == self._answer_socket:
                adapter.answer_socket = None

    def _hook_answers(self) -> None:
        # Again at each connection: ``aiosio run --workers`` gives the server its cluster adapter
        # after the app (and so instrument()) was loaded.
        adapter = self.sio.manager.adapter
        if (
            isinstance(adapter, ClusterAdapter)
            and adapter.answer_socket is None
            and self.observer in self.sio.observers
        ):
            adapter.answer_socket = self._answer_socket

    def uninstrument(self) -> None:
        """Stop observing the server: no more socket or event reports and connection counts
        (``server_stats`` go on until :meth:`shutdown`)."""
        self._observe(False)

    async def shutdown(self) -> None:
        """Stop sending ``server_stats`` and admin events, and stop observing the server
        (python-socketio's ``shutdown``)."""
        self._stopped = True
        self._observe(False)
        await self._stats.stop()
        await self._outbox.close()
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _ensure_started(self) -> None:
        if self._stopped:
            return
        self._hook_answers()
        if not self._stats.running and not self.sio._closing:
            self._stats.start(self._send_stats)

    async def _send_stats(self, report: dict[str, Any]) -> None:
        await broadcast_unlogged(self.sio, self.admin_namespace, "server_stats", (report,))

    def _answer_socket(self, info: SocketInfo) -> SocketInfo:
        """A local socket as this server's fetch answers describe it to the other nodes: its data
        with Node admin-ui's ``_admin`` (Engine.IO sid, transport), as a Node server keeps it."""
        if info.eio_sid is None:
            return info
        session = self.sio.eio.get(info.eio_sid)
        transport = session.transport if session is not None else "websocket"
        return info._replace(data=with_admin_entry(info.data, info.eio_sid, transport))

    # -- the admin namespace ------------------------------------------------------------------------

    async def admin_connect(self, sid: str, environ: dict[str, Any], client_auth: Any = None) -> None:
        """The admin namespace's ``connect`` handler: check the credentials, then send ``config``
        (and, in development mode, ``all_sockets`` once they are fetched)."""
        auth = self._auth
        session_id: str | None = None
        if auth.enabled and not auth.has_session(client_auth):
            if not await auth.check(client_auth):
                raise ConnectionRefusedError("invalid credentials")
            if auth.issues_sessions:
                session_id = auth.new_session()
        self.admitted.add(sid)
        ns = self.admin_namespace
        # Straight to this admin's connection (sent after the CONNECT reply: the server holds a
        # socket's packets until then), never logged for recovery nor published to the cluster.
        if session_id is not None:
            send_unlogged(self.sio, sid, ns, "session", (session_id,))
        send_unlogged(self.sio, sid, ns, "config", ({"supportedFeatures": self.supported_features},))
        self._ensure_started()
        if self.mode == "development":
            task = asyncio.get_running_loop().create_task(self._send_all_sockets(sid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def admin_disconnect(self, sid: str, *_reason: Any) -> None:
        """The admin namespace's ``disconnect`` handler: the sid may no longer act."""
        self.admitted.discard(sid)

    async def _send_all_sockets(self, sid: str) -> None:
        try:
            records = await self.all_sockets()
            send_unlogged(self.sio, sid, self.admin_namespace, "all_sockets", (records,))
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
        # Another node's socket: what its instrumented server (Node's admin-ui or aiosio) says
        # of it; a server that says nothing gets each socket counted as a client of its own.
        client_id, transport = node_admin_fields(remote.data)
        return socket_record(
            remote.sid,
            remote.namespace,
            client_id or remote.sid,
            transport or "websocket",
            remote.data,
            remote.handshake,
            sorted(remote.rooms, key=lambda room: room != remote.sid),
        )
