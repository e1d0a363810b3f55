"""Connect and disconnect: namespaces joining and leaving, paired connect/disconnect handlers."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Sequence
from typing import Any

from .. import exceptions
from ..adapters.base import Selector
from ..adapters.cluster import ClusterAdapter
from ..engine.eager import start_task
from ..engine.session import CloseReason, EngineSession
from ..protocol.socketio import Packet, PacketType
from ..recovery.options import RecoveryOptions
from ..recovery.store import RECOVERABLE_REASONS, Restored, SessionState
from .dispatch import Dispatch
from .handlers import Handler, positional_capacity
from .socket import CONNECT_QUEUED, CONNECT_RUNNING, Connection, ServerSocket

#: After a restore disconnected the same sid on another node, when its session is written again.
REWRITE_AFTER = 1.0
#: How long a restore waits for the old socket of its sid (on this server) to finish its
#: disconnect handler.
OLD_HANDLER_WAIT = 5.0


class Lifecycle(Dispatch):
    """Sockets connecting to and leaving namespaces, for :class:`~aiosio.AsyncServer`."""

    namespaces: Sequence[str] | str
    always_connect: bool
    connect_timeout: float
    manager_initialized: bool
    _closing: bool

    _adapter_ready: bool
    _recovery_options: RecoveryOptions | None
    _recovery_logged: bool
    #: With recovery on: pid -> the connected socket that holds it.
    _live_pids: dict[str, ServerSocket]
    #: Namespaces whose CONNECT reply always waits for the connect handler's verdict, whatever
    #: ``always_connect`` says (the Admin UI's: its handler checks credentials).
    _accept_after_handler: frozenset[str] = frozenset()

    async def _start_adapter(self) -> bool:
        raise NotImplementedError  # the server's lifecycle

    def _session_changed(self, sid: str, namespace: str) -> None:
        raise NotImplementedError  # the server's sessions

    async def on_connect(self, session: EngineSession) -> bool:
        """A new Engine.IO session: set up its Socket.IO state (namespaces come later)."""
        if self._closing:
            return False
        if not self.manager_initialized:
            self.manager_initialized = True
            self.manager.initialize()
        if not self._adapter_ready and not await self._start_adapter():
            return False
        conn = Connection(session, self._parser.decoder(), self)
        session.data = conn
        obs = self._obs
        if obs is not None:
            self._sync_adapter_observer()  # the adapter may have been replaced (--workers)
            if obs.connection_opened is not None:
                obs.connection_opened(session.sid, session.transport)
        return True

    def on_upgrade(self, session: EngineSession) -> None:
        """The session moved from long-polling to WebSocket (the observers hear of it)."""
        obs = self._obs
        if obs is not None and obs.transport_upgraded is not None and session.data is not None:
            obs.transport_upgraded(session.sid)

    def on_ping(self, session: EngineSession) -> None:
        """Close a connection that has been in no namespace for ``connect_timeout``: since it opened
        (it never joined one) or since it left its last one."""
        conn: Connection | None = session.data
        if (
            conn is not None
            and not conn.sockets
            and self._core.loop.time() - conn.opened_at >= self.connect_timeout
        ):
            session.close(CloseReason.SERVER_DISCONNECT)

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """The Engine.IO session ended: every namespace of it disconnects with ``reason``."""
        conn: Connection | None = session.data
        if conn is None:
            return
        obs = self._obs
        if obs is not None and reason == CloseReason.SLOW_CONSUMER and obs.slow_consumer is not None:
            for sock in conn.sockets.values():
                obs.slow_consumer(sock.sid, sock.namespace)
        if self._recovery is not None and reason in RECOVERABLE_REASONS:
            for sock in conn.sockets.values():
                self._persist(sock)
        for sock in list(conn.sockets.values()):
            self._drop_socket(sock, reason)
        if obs is not None and obs.connection_closed is not None:
            obs.connection_closed(session.sid, reason)

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        """Disconnect a client from a namespace; it is told (DISCONNECT) and will not reconnect.

        A client whose connect handler is still running is refused at once (CONNECT_ERROR); its
        disconnect handler runs only if the connect handler then accepts it.
        """
        ns = namespace or "/"
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != ns:
            # Not a socket of this process: the adapter may know where it is (unless ignore_queue:
            # python-socketio's "this server only").
            if not ignore_queue:
                await self._adapter.disconnect_sockets(ns, Selector((sid,), sids=True))
            return
        if sock.gone:
            return
        if (
            sock.ready
            and "can_disconnect" in self._hooks
            and not ignore_queue
            and (not await self.manager.can_disconnect(sid, ns) or sock.gone)
        ):
            return
        self.disconnect_socket(sock, False)

    def disconnect_socket(self, sock: ServerSocket, close: bool) -> None:
        """Disconnect a socket of this process now (``disconnect`` and the adapters' ``disconnect_sockets``
        end here): the client is told, its disconnect handler runs; ``close`` also ends the connection."""
        if sock.gone:
            return
        if not sock.ready:
            self._send_connect_error(sock.conn, sock.namespace, {"message": "Connection rejected by server"})
            if sock.connecting == CONNECT_RUNNING:
                self._leave_pending(sock, CloseReason.SERVER_DISCONNECT)
            else:
                self._forget_socket(sock)
        else:
            sock.deliver(self._parser.encode(Packet(PacketType.DISCONNECT, sock.namespace)))
            sock.flush_held()
            self._drop_socket(sock, CloseReason.SERVER_DISCONNECT)
        if close:
            sock.session.close(CloseReason.SERVER_DISCONNECT)

    # -- connect / disconnect -----------------------------------------------------------------------
    #
    # The rule: a connect handler that accepts (returns anything but False, raises nothing) is paired
    # with exactly one disconnect handler call, whatever the timing; one that refuses gets none. A
    # client that leaves while its connect handler runs is forgotten by the transport at once (its
    # namespace is free to connect again), and its disconnect handler runs when, and only if, the
    # connect handler accepts. python-socketio loses that disconnect; Node never accepts such a socket.

    def _namespace_allowed(self, namespace: str) -> bool:
        """python-socketio's rule: a namespace is open if listed in ``namespaces`` (or that is ``'*'``)
        or a handler is registered for it by name. A catch-all (``'*'``) handler alone opens nothing:
        an app that logs every namespace's events must not accept namespaces nobody declared."""
        if self.namespaces == "*":
            return True
        return namespace in self.namespaces or self._registry.knows_namespace(namespace)

    def _send_connect_error(self, conn: Connection, namespace: str, error: dict[str, Any]) -> None:
        for frame in self._parser.encode(Packet(PacketType.CONNECT_ERROR, namespace, error)):
            conn.session.send(frame)

    def _handle_connect(self, conn: Connection, packet: Packet) -> None:
        ns = packet.namespace
        if ns in conn.sockets or (conn.restoring is not None and ns in conn.restoring):
            return  # already connected (or connecting) to this namespace
        if not self._namespace_allowed(ns):
            self._send_connect_error(conn, ns, {"message": "Invalid namespace"})
            return
        auth = packet.data
        if self._recovery is not None and isinstance(auth, dict) and isinstance(auth.get("pid"), str):
            offset = auth.get("offset")
            if offset is not None and not isinstance(offset, str):
                offset = ""  # not an offset: refused, never taken for "from the start"
            # The recovery keys are the library's, not the app's: the handler (and fetch_sockets'
            # handshake) see the client's own auth, and the pid stays private.
            user_auth = {k: v for k, v in auth.items() if k != "pid" and k != "offset"}
            self._restore(conn, ns, auth["pid"], offset, user_auth)
            return
        self._connect(conn, ns, auth, None)

    # -- connection-state recovery ---------------------------------------------------------------

    def _restore(self, conn: Connection, ns: str, pid: str, offset: str | None, auth: Any) -> None:
        """A client asks to recover session ``pid``: ask the store, then connect (recovered or not)."""
        old = self._live_pids.get(pid)
        previous: ServerSocket | None = None
        if old is not None and old.namespace == ns and old.conn is not conn and not old.gone:
            # The client is back before this server noticed its old connection is dead (a cut
            # polling client is seen only at its ping timeout): that connection counts as lost now.
            self._persist(old)
            self._drop_socket(old, CloseReason.TRANSPORT_CLOSE)
            if not old.conn.sockets:
                old.session.close(CloseReason.TRANSPORT_CLOSE)
            previous = old
        if conn.restoring is None:
            conn.restoring = set()
        conn.restoring.add(ns)

        def done(_result: None, exc: BaseException | None) -> None:
            if exc is None:
                return
            assert conn.restoring is not None
            conn.restoring.discard(ns)
            if not isinstance(exc, asyncio.CancelledError):
                self.logger.error("connection-state recovery failed; connecting afresh", exc_info=exc)
            if not conn.session.closed and ns not in conn.sockets:
                self._connect(conn, ns, auth, None)

        start_task(self._core.loop, self._restore_and_connect(conn, ns, pid, offset, auth, previous), done)

    async def _restore_and_connect(
        self,
        conn: Connection,
        ns: str,
        pid: str,
        offset: str | None,
        auth: Any,
        previous: ServerSocket | None = None,
    ) -> None:
        store = self._recovery
        assert store is not None and conn.restoring is not None
        if previous is not None:
            # The old socket of this sid is in its disconnect handler: the restored one (same
            # sid) comes after it is forgotten, so what the handler does by sid (leave_room...)
            # is done to the old socket, not to the restored one. Bounded.
            loop = self._core.loop
            deadline = loop.time() + OLD_HANDLER_WAIT
            while self._sockets.get(previous.sid) is previous and loop.time() < deadline:
                await asyncio.sleep(0.01)
        restored = await store.restore(ns, pid, offset)
        conn.restoring.discard(ns)
        if conn.session.closed or ns in conn.sockets:
            return
        if restored is not None:
            holder = self._sockets.get(restored.session.sid)
            if holder is not None and not holder.gone:
                restored = None  # its sid is in use by a connected socket: not this client's
            else:
                store.discard(pid)
                if self._recovery_logged:
                    # Written through, the session may still be held by a socket of another node
                    # that has not noticed its connection is dead: that one goes first.
                    self._disconnect_elsewhere(ns, restored.session.sid)
        # Nothing awaited from the store's answer to here: no packet can slip in between.
        self._connect(conn, ns, auth, restored)

    def _disconnect_elsewhere(self, ns: str, sid: str) -> None:
        """Disconnect the socket ``sid`` wherever else in the cluster it is (published now: the
        other nodes only; the restored socket that takes the sid here must not be the one hit)."""
        adapter = self._adapter
        if isinstance(adapter, ClusterAdapter):
            adapter.driver.disconnect_sockets(ns, Selector((sid,), sids=True), False)
            # That node then deletes the session it held only if it still holds what that node
            # wrote (compare-and-delete): this node's write survives, unless it is the very same
            # value (nothing appended since the session started). Written again once, for that.
            self._core.loop.call_later(REWRITE_AFTER, self._session_changed, sid, ns)

    def _persist(self, sock: ServerSocket) -> None:
        """Keep a connected socket's session for recovery (its connection was lost)."""
        store = self._recovery
        if store is None or sock.pid is None or not sock.ready or sock.gone:
            return
        store.persist(self._session_state(sock))
        if self._live_pids.get(sock.pid) is sock:
            del self._live_pids[sock.pid]  # kept: not discarded when the socket is forgotten

    def _session_state(self, sock: ServerSocket) -> SessionState:
        assert sock.pid is not None
        rooms = tuple(self._adapter.rooms(sock.namespace, sock.sid))
        return SessionState(sock.sid, sock.pid, sock.namespace, rooms, sock.user, sock.recovery_start)

    def _accepts_early(self, sock: ServerSocket) -> bool:
        """Whether the CONNECT reply goes out before the connect handler runs: ``always_connect``,
        or a recovered socket with ``skip_middlewares``."""
        if sock.namespace in self._accept_after_handler:
            return False
        if self.always_connect:
            return True
        options = self._recovery_options
        return sock.recovered and options is not None and options.skip_middlewares

    def _connect(self, conn: Connection, ns: str, auth_data: Any, restored: Restored | None) -> None:
        """Make the socket (with the restored sid, rooms and session, if any) and run its
        connect handler."""
        sid = secrets.token_urlsafe(15) if restored is None else restored.session.sid
        sock = ServerSocket(sid, ns, conn)
        sock.auth = auth_data
        conn.sockets[ns] = sock
        self._sockets[sid] = sock
        self._adapter.add(ns, sock)
        store = self._recovery
        if store is not None:
            if restored is None:
                sock.pid = secrets.token_urlsafe(15)
            else:
                state = restored.session
                sock.pid = state.pid
                sock.recovered = True
                sock.user = state.data
                for room in state.rooms:
                    self._adapter.join(ns, sid, room)
                sock.missed = restored.missed
            sock.recovery_start = store.position()
            self._live_pids[sock.pid] = sock
        if self._accepts_early(sock):
            self._accept(sock)
        handler, args = self._registry.find(ns, "connect", (sid,))
        if handler is None:
            self._connect_decided(sock, True, None)
            return
        # python-socketio passes auth=None when the client sent none: both for `40` and `40{}`.
        auth = auth_data or None
        # A connect handler counts against max_inflight like an event handler: otherwise CONNECTs
        # to many namespaces would start any number of them at once.
        sock.connecting = CONNECT_QUEUED
        conn.session.run_limited(lambda: self._start_connect_handler(sock, handler, args, auth))

    def _start_connect_handler(
        self, sock: ServerSocket, handler: Handler, args: tuple[Any, ...], auth: Any
    ) -> None:
        if sock.gone:
            return  # the client left while this waited for a handler slot; it was forgotten then
        session = sock.session
        sock.connecting = CONNECT_RUNNING
        task = start_task(
            self._core.loop,
            self._run_connect_handler(sock, handler, args, auth),
            lambda result, exc: self._connect_decided(sock, result, exc),
        )
        if task is not None:
            session.task_started()
            task.add_done_callback(lambda _t: session.task_done())

    async def _run_connect_handler(
        self, sock: ServerSocket, handler: Handler, args: tuple[Any, ...], auth: Any
    ) -> Any:
        args = (*args, sock.conn.environ)
        if positional_capacity(handler) >= len(args) + 1:
            args = (*args, auth)
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _accept(self, sock: ServerSocket) -> None:
        """Send the CONNECT reply; the manager hears of it (``connect``) if it asked to.

        With recovery on, the reply carries the pid, and a recovered socket's missed packets go
        out just before it (Node's order; clients hold events that arrive before CONNECT).
        """
        send = sock.session.send
        if sock.pid is None:
            reply: dict[str, Any] = {"sid": sock.sid}
        else:
            reply = {"sid": sock.sid, "pid": sock.pid}
            missed, sock.missed = sock.missed, None
            for frames in missed or ():
                for frame in frames:
                    send(frame)
        for frame in self._parser.encode(Packet(PacketType.CONNECT, sock.namespace, reply)):
            send(frame)
        sock.mark_ready()
        if sock.pid is not None and self._recovery is not None:
            # A store that outlives this process holds the session from now on (write-through).
            self._recovery.save_session(self._session_state(sock))
        if "connect" in self._hooks:
            self._run_hook(sock.sid, self.manager.connect(sock.sid, sock.namespace))

    def _connect_decided(self, sock: ServerSocket, result: Any, exc: BaseException | None) -> None:
        sock.connecting = 0
        error: dict[str, Any] | None = None
        if isinstance(exc, exceptions.ConnectionRefusedError):
            error = exc.error_args
        elif isinstance(exc, ConnectionRefusedError):  # the builtin: a plain refusal, as in python-socketio
            error = {"message": "Connection refused by server"}
        elif exc is not None:
            if not isinstance(exc, asyncio.CancelledError):
                self.logger.error("connect handler failed", exc_info=exc)
            error = {"message": "Connection rejected by server"}
        elif result is False:
            error = {"message": "Connection rejected by server"}
        early = self._accepts_early(sock)
        if sock.gone:
            # The client left (or was disconnected) while the handler ran.
            if error is None:
                if not early and "connect" in self._hooks:
                    self._run_hook(sock.sid, self.manager.connect(sock.sid, sock.namespace))
                self._run_disconnect_handler(sock, sock.left or CloseReason.CLIENT_DISCONNECT)
            else:
                self._forget_socket(sock)
            return
        if error is None:
            if not early:
                self._accept(sock)
            obs = self._obs
            if obs is not None:
                sock.observed = True  # its disconnect is reported, whatever observers there are then
                if obs.socket_connected is not None:
                    obs.socket_connected(sock)
            return
        self._forget_socket(sock)
        if early:
            for frame in self._parser.encode(Packet(PacketType.DISCONNECT, sock.namespace, error)):
                sock.session.send(frame)
        else:
            self._send_connect_error(sock.conn, sock.namespace, error)

    def _detach(self, sock: ServerSocket) -> None:
        """Stop all traffic to and from a socket and free its namespace on the connection (so the
        client can connect to it again at once); rooms and session stay until it is forgotten."""
        sock.ready = False
        sock.hold = True
        sock.gone = True
        sock.pending.clear()
        sock.fail_acks(exceptions.DisconnectedError(f"{sock.sid} disconnected"))
        if sock.conn.sockets.get(sock.namespace) is sock:
            del sock.conn.sockets[sock.namespace]
            if not sock.conn.sockets:  # connect_timeout counts again from now
                sock.conn.opened_at = self._core.loop.time()

    def _leave_pending(self, sock: ServerSocket, reason: str) -> None:
        """The client left while its connect handler runs: the handler's verdict decides the rest."""
        sock.left = reason
        self._detach(sock)

    def _forget_socket(self, sock: ServerSocket) -> None:
        self._detach(sock)
        if sock.pid is not None and self._live_pids.get(sock.pid) is sock:
            # Gone for good (not persisted: a namespace disconnect, a refused connect).
            del self._live_pids[sock.pid]
            if self._recovery is not None:
                self._recovery.discard(sock.pid)
        if self._sockets.get(sock.sid) is sock:
            del self._sockets[sock.sid]
            self._adapter.remove(sock.namespace, sock.sid)
            if "disconnect" in self._hooks:
                self._run_hook(sock.sid, self.manager.disconnect(sock.sid, sock.namespace, ignore_queue=True))

    def _drop_socket(self, sock: ServerSocket, reason: str) -> None:
        """Disconnect a socket: its ``disconnect`` handler runs to the end with the socket's session
        and rooms intact (as in python-socketio), then the socket is forgotten everywhere."""
        if sock.gone or self._sockets.get(sock.sid) is not sock:
            return
        if sock.connecting == CONNECT_RUNNING:
            self._leave_pending(sock, reason)
        elif sock.connecting == CONNECT_QUEUED or not sock.ready:
            # Its connect handler never started (with always_connect the client was told CONNECT,
            # but the app never saw it): nothing to pair.
            self._forget_socket(sock)
        else:
            self._detach(sock)
            self._run_disconnect_handler(sock, reason)

    def _run_disconnect_handler(self, sock: ServerSocket, reason: str) -> None:
        if sock.observed:
            sock.observed = False
            obs = self._obs
            if obs is not None and obs.socket_disconnected is not None:
                obs.socket_disconnected(sock.sid, sock.namespace, reason)
        if "pre_disconnect" in self._hooks:
            self.manager.pre_disconnect(sock.sid, sock.namespace)
        handler, args = self._registry.find(sock.namespace, "disconnect", (sock.sid,))
        if handler is None:
            self._forget_socket(sock)
            return
        if positional_capacity(handler) >= len(args) + 1:
            args = (*args, reason)
        # Not subject to max_inflight: a closing session drops its backlog, and this must run.
        self._start(sock.session, handler, args, None, lambda: self._forget_socket(sock))
