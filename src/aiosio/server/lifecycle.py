"""Connect and disconnect: namespaces joining and leaving, paired connect/disconnect handlers."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Sequence
from typing import Any

from .. import exceptions
from ..adapters.base import Selector
from ..engine.eager import start_task
from ..engine.session import CloseReason, EngineSession
from ..protocol.socketio import Packet, PacketType
from .dispatch import Dispatch
from .handlers import Handler, positional_capacity
from .socket import CONNECT_QUEUED, CONNECT_RUNNING, Connection, ServerSocket


class Lifecycle(Dispatch):
    """Sockets connecting to and leaving namespaces, for :class:`~aiosio.AsyncServer`."""

    namespaces: Sequence[str] | str
    always_connect: bool
    connect_timeout: float
    manager_initialized: bool
    _closing: bool

    _adapter_ready: bool

    async def _start_adapter(self) -> bool:
        raise NotImplementedError  # the server's lifecycle

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
        return True

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
        for sock in list(conn.sockets.values()):
            self._drop_socket(sock, reason)

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        """Disconnect a client from a namespace; it is told (DISCONNECT) and will not reconnect.

        A client whose connect handler is still running is refused at once (CONNECT_ERROR); its
        disconnect handler runs only if the connect handler then accepts it.
        """
        ns = namespace or "/"
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != ns:
            # Not a socket of this process: the adapter may know where it is.
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
        if ns in conn.sockets:
            return  # already connected (or connecting) to this namespace
        if not self._namespace_allowed(ns):
            self._send_connect_error(conn, ns, {"message": "Invalid namespace"})
            return
        sid = secrets.token_urlsafe(15)
        sock = ServerSocket(sid, ns, conn)
        sock.auth = packet.data
        conn.sockets[ns] = sock
        self._sockets[sid] = sock
        self._adapter.add(ns, sock)
        if self.always_connect:
            self._accept(sock)
        handler, args = self._registry.find(ns, "connect", (sid,))
        if handler is None:
            self._connect_decided(sock, True, None)
            return
        # python-socketio passes auth=None when the client sent none: both for `40` and `40{}`.
        auth = packet.data or None
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
        """Send the CONNECT reply; the manager hears of it (``connect``) if it asked to."""
        for frame in self._parser.encode(Packet(PacketType.CONNECT, sock.namespace, {"sid": sock.sid})):
            sock.session.send(frame)
        sock.mark_ready()
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
        if sock.gone:
            # The client left (or was disconnected) while the handler ran.
            if error is None:
                if not self.always_connect and "connect" in self._hooks:
                    self._run_hook(sock.sid, self.manager.connect(sock.sid, sock.namespace))
                self._run_disconnect_handler(sock, sock.left or CloseReason.CLIENT_DISCONNECT)
            else:
                self._forget_socket(sock)
            return
        if error is None:
            if not self.always_connect:
                self._accept(sock)
            return
        self._forget_socket(sock)
        if self.always_connect:
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
