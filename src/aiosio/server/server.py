"""The Socket.IO v5 server: python-socketio's ``AsyncServer`` surface on aiosio's engine."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from aiohttp import web

from .. import exceptions
from ..adapters.base import Adapter
from ..adapters.memory import MemoryAdapter
from ..engine.eager import start_task
from ..engine.options import EngineOptions
from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..engineio import _make_logger
from ..protocol import msgpack_parser
from ..protocol.engineio import PacketType as EioType
from ..protocol.errors import ParseError
from ..protocol.frames import Frame
from ..protocol.jsoncodec import JSONCodec
from ..protocol.socketio import Decoder, Packet, PacketType, encode, encode_ack_fast, encode_event_fast
from ..transport.server import AiohttpEngineTransport
from .handlers import Handler, HandlerRegistry, positional_capacity
from .namespace import AsyncNamespace
from .socket import Connection, ServerSocket

_NOT_HANDLED = object()


class AsyncServer:
    """A Socket.IO server for aiohttp, compatible with python-socketio's ``AsyncServer``.

    ``sio = AsyncServer(); sio.attach(app)`` serves Socket.IO at ``/socket.io/``. Handlers are
    registered with :meth:`on` / :meth:`event` and receive ``sid`` first; an event handler's return
    value is the acknowledgement. Engine.IO options (``ping_interval``, ``ping_timeout``,
    ``max_http_buffer_size``, ``cors_allowed_origins``, ``transports`` …) are keyword arguments, as in
    python-socketio; see :class:`~aiosio.engine.options.EngineOptions` for all of them.
    """

    reason = CloseReason

    def __init__(
        self,
        client_manager: Adapter | None = None,
        logger: bool | logging.Logger = False,
        json: Any = None,
        async_handlers: bool = True,
        namespaces: Sequence[str] | str | None = None,
        always_connect: bool = False,
        serializer: str = "default",
        async_mode: str | None = None,
        max_attachments: int = 10,
        connect_timeout: float = 45.0,
        **kwargs: Any,
    ) -> None:
        if async_mode not in (None, "aiohttp"):
            raise ValueError("aiosio runs on aiohttp only: async_mode must be 'aiohttp' or None")
        if serializer not in ("default", "msgpack"):
            raise ValueError("serializer must be 'default' or 'msgpack'")
        for ignored in ("engineio_logger", "monitor_clients", "transport_kwargs"):
            kwargs.pop(ignored, None)
        self.options = EngineOptions.from_kwargs(kwargs)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        self.logger = _make_logger(logger, "aiosio.server")
        self.manager: Adapter = client_manager if client_manager is not None else MemoryAdapter()
        self.json = JSONCodec(json)
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.serializer = serializer
        self.max_attachments = max_attachments
        #: The orjson fast paths apply (default parser, no custom json module).
        self._fast_json = serializer == "default" and json is None
        #: A connection in no namespace for this long is closed (Node's ``connectTimeout``); checked
        #: whenever a PING is due, so it takes effect within one ``ping_interval`` after.
        self.connect_timeout = connect_timeout
        self.namespaces: Sequence[str] | str = ["/"] if namespaces is None else namespaces
        self._registry = HandlerRegistry()
        self.handlers = self._registry.handlers
        self.namespace_handlers = self._registry.namespace_handlers
        self._sockets: dict[str, ServerSocket] = {}
        self._closing = False
        self.eio = EngineCore(self.options, self)
        self._transport = AiohttpEngineTransport(self.eio)

    # -- setup --------------------------------------------------------------------------------------

    def attach(self, app: web.Application, socketio_path: str = "socket.io") -> None:
        """Serve Socket.IO on ``app`` at ``/<socketio_path>/``; the app's shutdown also closes it."""
        self._transport.attach(app, socketio_path)
        app.on_shutdown.append(self._on_app_shutdown)

    async def _on_app_shutdown(self, _app: web.Application) -> None:
        await self.shutdown()

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register a handler for ``event`` (``'*'`` catches every event); usable as a decorator."""
        ns = namespace or "/"

        def register(fn: Handler) -> Handler:
            self._registry.add(ns, event, fn)
            return fn

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a handler named after the function: ``@sio.event``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def register(fn: Handler) -> Handler:
            return self.on(fn.__name__, *args, **kwargs)(fn)  # type: ignore[no-any-return]

        return register

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Register a class-based namespace handler."""
        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("not an AsyncNamespace")
        namespace_handler._set_server(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    # -- emitting -----------------------------------------------------------------------------------

    def _encode(self, namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None) -> list[Frame]:
        """Encode an EVENT once into the Engine.IO frames every recipient gets."""
        if ack_id is None and self._fast_json:
            fast = encode_event_fast(namespace, event, args)
            if fast is not None:
                return [Frame(b"4" + fast)]
        return self._encode_packet(Packet(PacketType.EVENT, namespace, [event, *args], ack_id))

    def _encode_packet(self, packet: Packet) -> list[Frame]:
        if self.serializer == "msgpack":
            return [Frame(msgpack_parser.encode(packet), binary=True)]
        text, attachments = encode(packet, self.json)
        frames = [Frame.text(EioType.MESSAGE, text)]
        frames.extend(Frame(a, binary=True) for a in attachments)
        return frames

    @staticmethod
    def _args(data: Any) -> tuple[Any, ...]:
        if data is None:
            return ()
        if isinstance(data, tuple):
            return data
        return (data,)

    @staticmethod
    def _rooms(value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, (list, tuple, set, frozenset)):
            return list(value)
        return [value]

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        volatile: bool = False,
    ) -> None:
        """Emit ``event`` to a sid, a room, several rooms (a list) or everyone in the namespace.

        ``data`` is one argument, or a tuple of arguments. ``skip_sid`` takes sids or room names (one
        or a list); their members are left out. With ``callback`` each recipient's ack calls it.
        ``volatile=True`` drops the packet for clients that cannot take it right now.
        """
        ns = namespace or "/"
        args = self._args(data)
        targets = self._rooms(to if to is not None else room)
        exclude = self._rooms(skip_sid)
        if callback is not None:
            on_ack = self._callback_adapter(callback)
            for member in self.manager.members(ns, targets, exclude):
                sock = self._sockets.get(member.sid)
                if sock is not None:
                    ack_id = sock.add_ack(on_ack)
                    sock.deliver(self._encode(ns, event, args, ack_id))
            return
        frames = self._encode(ns, event, args, None)
        if targets is not None and len(targets) == 1 and not exclude:
            # The common case: straight to one client, no adapter walk.
            sock = self._sockets.get(targets[0])
            if sock is not None and sock.namespace == ns:
                if volatile:
                    sock.deliver_volatile(frames)
                else:
                    sock.deliver(frames)
                return
        await self.manager.broadcast(ns, frames, targets, exclude, volatile)

    def _callback_adapter(self, callback: Callable[..., Any]) -> Callable[[list[Any] | BaseException], None]:
        def on_ack(result: list[Any] | BaseException) -> None:
            if isinstance(result, BaseException):
                return  # a callback has no way to receive an error; a dropped client just never acks
            try:
                outcome = callback(*result)
            except Exception:
                self.logger.exception("ack callback failed")
                return
            if inspect.iscoroutine(outcome):
                start_task(self.eio.loop, outcome, self._log_failure)

        return on_ack

    async def send(
        self,
        data: Any,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit a ``message`` event (python-socketio's ``send``)."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback, ignore_queue)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit to one client and wait for its ack; returns its argument (a tuple if several).

        Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds, and
        :class:`~aiosio.exceptions.DisconnectedError` at once if the client goes away first.
        """
        target = to or sid
        if target is None:
            raise ValueError("call() needs the sid of one client")
        ns = namespace or "/"
        sock = self._sockets.get(target)
        if sock is None or sock.namespace != ns or sock.gone or sock.session.closed:
            raise exceptions.DisconnectedError(f"{target} is not connected to {ns}")
        future: asyncio.Future[list[Any]] = self.eio.loop.create_future()

        def on_ack(result: list[Any] | BaseException) -> None:
            if future.done():
                return
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        ack_id = sock.add_ack(on_ack)
        sock.deliver(self._encode(ns, event, self._args(data), ack_id))
        try:
            async with asyncio.timeout(timeout):
                result = await future
        except TimeoutError:
            raise exceptions.TimeoutError(f"no ack for {event!r} within {timeout} s") from None
        finally:
            sock.pop_ack(ack_id)
        if not result:
            return None
        return result[0] if len(result) == 1 else tuple(result)

    # -- rooms and sessions -------------------------------------------------------------------------

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put a client in a room."""
        self.manager.join(namespace or "/", sid, room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take a client out of a room."""
        self.manager.leave(namespace or "/", sid, room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client out of a room."""
        self.manager.close_room(namespace or "/", room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in (its own sid room first)."""
        return self.manager.rooms(namespace or "/", sid)

    def _socket(self, sid: str, namespace: str | None) -> ServerSocket:
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != (namespace or "/"):
            raise KeyError(f"unknown sid {sid!r} in namespace {namespace or '/'!r}")
        return sock

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[Any, Any]:
        """The user session dict of a client (empty at first)."""
        sock = self._socket(sid, namespace)
        if sock.user is None:
            sock.user = {}
        return sock.user

    async def save_session(self, sid: str, session: dict[Any, Any], namespace: str | None = None) -> None:
        """Replace the user session dict of a client."""
        self._socket(sid, namespace).user = session

    @contextlib.asynccontextmanager
    async def session(self, sid: str, namespace: str | None = None) -> AsyncIterator[dict[Any, Any]]:
        """``async with sio.session(sid) as s:`` gives the user session and saves it afterwards."""
        data = await self.get_session(sid, namespace)
        yield data
        await self.save_session(sid, data, namespace)

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``'polling'`` or ``'websocket'``: the transport a client uses now."""
        return self._socket(sid, namespace).session.transport

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The environ dict of a client's connection request."""
        sock = self._sockets.get(sid)
        return sock.conn.environ if sock is not None else None

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        """Disconnect a client from a namespace; it is told (DISCONNECT) and will not reconnect."""
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != (namespace or "/") or sock.gone:
            return
        if not sock.ready:
            # Its connect handler is still running: the client is refused rather than left waiting.
            self._forget_socket(sock)
            self._send_connect_error(sock.conn, sock.namespace, {"message": "Connection rejected by server"})
            return
        sock.deliver(self._encode_packet(Packet(PacketType.DISCONNECT, sock.namespace)))
        sock.flush_held()
        self._drop_socket(sock, CloseReason.SERVER_DISCONNECT)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close every connection cleanly (clients see a server close and may reconnect elsewhere)."""
        self._closing = True
        await self.eio.shutdown(CloseReason.SERVER_SHUTDOWN)

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, for python-socketio compatibility."""
        await asyncio.sleep(seconds)

    # -- Engine.IO callbacks ------------------------------------------------------------------------

    async def on_connect(self, session: EngineSession) -> bool:
        """A new Engine.IO session: set up its Socket.IO state (namespaces come later)."""
        if self._closing:
            return False
        decoder = None if self.serializer == "msgpack" else Decoder(self.json, self.max_attachments)
        conn = Connection(session, decoder)
        session.data = conn
        return True

    def on_ping(self, session: EngineSession) -> None:
        """Close a connection that has stayed out of every namespace past ``connect_timeout``."""
        conn: Connection | None = session.data
        if (
            conn is not None
            and not conn.sockets
            and self.eio.loop.time() - conn.opened_at >= self.connect_timeout
        ):
            session.close(CloseReason.SERVER_DISCONNECT)

    def on_message(self, session: EngineSession, data: str | bytes) -> None:
        """Decode one Engine.IO message and act on the Socket.IO packet it completes."""
        conn: Connection = session.data
        try:
            if conn.decoder is None:
                packet = msgpack_parser.decode(data)
            else:
                fed = conn.decoder.feed(data)
                if fed is None:
                    pending = conn.decoder.pending
                    if pending is not None and pending.namespace not in conn.sockets:
                        raise ParseError("binary packet for a namespace the client has not joined")
                    return
                packet = fed
        except ParseError as exc:
            session.protocol_error(str(exc))
            return
        ptype = packet.type
        if ptype == PacketType.EVENT:
            sock = conn.sockets.get(packet.namespace)
            # Not before the connect handler has accepted the socket (python-socketio drops these
            # too): a refused client must not get an event handled.
            if sock is not None and sock.ready:
                self._handle_event(sock, packet)
        elif ptype == PacketType.ACK:
            sock = conn.sockets.get(packet.namespace)
            if sock is not None and sock.ready and packet.id is not None:
                callback = sock.pop_ack(packet.id)
                if callback is not None:  # unknown or repeated acks are ignored
                    callback(packet.data)
        elif ptype == PacketType.CONNECT:
            self._handle_connect(conn, packet)
        elif ptype == PacketType.DISCONNECT:
            sock = conn.sockets.get(packet.namespace)
            if sock is not None:
                self._drop_socket(sock, CloseReason.CLIENT_DISCONNECT)
        else:
            session.protocol_error(f"clients may not send {ptype.name}")

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """The Engine.IO session ended: every namespace of it disconnects with ``reason``."""
        conn: Connection | None = session.data
        if conn is None:
            return
        for sock in list(conn.sockets.values()):
            self._drop_socket(sock, reason)

    # -- connect / disconnect -----------------------------------------------------------------------

    def _namespace_allowed(self, namespace: str) -> bool:
        if self.namespaces == "*" or "*" in self._registry.handlers or "*" in self.namespace_handlers:
            return True
        return namespace in self.namespaces or self._registry.knows_namespace(namespace)

    def _send_connect_error(self, conn: Connection, namespace: str, error: dict[str, Any]) -> None:
        for frame in self._encode_packet(Packet(PacketType.CONNECT_ERROR, namespace, error)):
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
        conn.sockets[ns] = sock
        self._sockets[sid] = sock
        self.manager.add(ns, sock)
        if self.always_connect:
            self._send_connect_reply(sock)
        # A connect handler counts against max_inflight like an event handler: otherwise CONNECTs
        # to many namespaces would start any number of them at once.
        session = conn.session
        session.run_limited(lambda: self._start_connect_handler(sock, packet.data))

    def _start_connect_handler(self, sock: ServerSocket, auth: Any) -> None:
        session = sock.session
        task = start_task(
            self.eio.loop,
            self._run_connect_handler(sock, auth),
            lambda result, exc: self._connect_decided(sock, result, exc),
        )
        if task is not None:
            session.task_started()
            task.add_done_callback(lambda _t: session.task_done())

    async def _run_connect_handler(self, sock: ServerSocket, auth: Any) -> Any:
        handler, args = self._registry.find(sock.namespace, "connect", (sock.sid,))
        if handler is None:
            return True
        args = (*args, sock.conn.environ)
        if positional_capacity(handler) >= len(args) + 1:
            args = (*args, auth)
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _send_connect_reply(self, sock: ServerSocket) -> None:
        for frame in self._encode_packet(Packet(PacketType.CONNECT, sock.namespace, {"sid": sock.sid})):
            sock.session.send(frame)
        sock.mark_ready()

    def _connect_decided(self, sock: ServerSocket, result: Any, exc: BaseException | None) -> None:
        if sock.session.closed or sock.conn.sockets.get(sock.namespace) is not sock:
            return  # the client left while the connect handler ran
        error: dict[str, Any] | None = None
        if isinstance(exc, exceptions.ConnectionRefusedError):
            error = exc.error_args
        elif exc is not None:
            if not isinstance(exc, asyncio.CancelledError):
                self.logger.error("connect handler failed", exc_info=exc)
            error = {"message": "Connection rejected by server"}
        elif result is False:
            error = {"message": "Connection rejected by server"}
        if error is None:
            if not self.always_connect:
                self._send_connect_reply(sock)
            return
        self._forget_socket(sock)
        if self.always_connect:
            sock.session.send(self._encode_packet(Packet(PacketType.DISCONNECT, sock.namespace))[0])
        else:
            self._send_connect_error(sock.conn, sock.namespace, error)

    def _forget_socket(self, sock: ServerSocket) -> None:
        sock.ready = False
        sock.hold = True
        sock.gone = True
        sock.pending.clear()
        if sock.conn.sockets.get(sock.namespace) is sock:
            del sock.conn.sockets[sock.namespace]
        if self._sockets.get(sock.sid) is sock:
            del self._sockets[sock.sid]
            self.manager.remove(sock.namespace, sock.sid)
        sock.fail_acks(exceptions.DisconnectedError(f"{sock.sid} disconnected"))

    def _drop_socket(self, sock: ServerSocket, reason: str) -> None:
        """Disconnect a socket: its ``disconnect`` handler runs to the end with the socket's session
        and rooms intact (as in python-socketio), then the socket is forgotten everywhere."""
        if sock.gone or self._sockets.get(sock.sid) is not sock:
            return
        was_connected = sock.ready
        sock.ready = False
        sock.hold = True
        sock.gone = True
        sock.pending.clear()
        sock.fail_acks(exceptions.DisconnectedError(f"{sock.sid} disconnected"))
        # The namespace is free at once, so the client can connect to it again while the handler runs.
        if sock.conn.sockets.get(sock.namespace) is sock:
            del sock.conn.sockets[sock.namespace]
        handler = None
        args: tuple[Any, ...] = ()
        if was_connected:
            handler, args = self._registry.find(sock.namespace, "disconnect", (sock.sid,))
        if handler is None:
            self._forget_socket(sock)
            return
        if positional_capacity(handler) >= len(args) + 1:
            args = (*args, reason)
        # Not subject to max_inflight: a closing session drops its backlog, and this must run.
        self._start(sock.session, handler, args, None, lambda: self._forget_socket(sock))

    # -- events -------------------------------------------------------------------------------------

    def _handle_event(self, sock: ServerSocket, packet: Packet) -> None:
        data = packet.data
        handler, args = self._registry.find(sock.namespace, data[0], (sock.sid, *data[1:]))
        if handler is None:
            return
        ack_id = packet.id
        self._invoke(sock.session, handler, args, (sock, ack_id) if ack_id is not None else None)

    def _invoke(
        self,
        session: EngineSession,
        handler: Handler,
        args: tuple[Any, ...],
        ack: tuple[ServerSocket, int] | None,
    ) -> None:
        """Run an event handler now, or once a handler slot of this connection is free."""
        if session.at_capacity:
            session.run_limited(lambda: self._start(session, handler, args, ack))
        else:
            self._start(session, handler, args, ack)

    def _start(
        self,
        session: EngineSession,
        handler: Handler,
        args: tuple[Any, ...],
        ack: tuple[ServerSocket, int] | None,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Call a handler (a coroutine becomes a Task, eager where Python allows); ack its result."""
        try:
            result = handler(*args)
        except Exception as exc:
            self._log_failure(None, exc)
            result = None
            ack = None
        if not inspect.iscoroutine(result):
            if ack is not None:
                self._send_ack(ack[0], ack[1], result)
            if after is not None:
                after()
            return

        def on_done(value: Any, exc: BaseException | None) -> None:
            if exc is not None:
                self._log_failure(None, exc)
            elif ack is not None:
                self._send_ack(ack[0], ack[1], value)
            if after is not None:
                after()

        task = start_task(self.eio.loop, result, on_done)
        if task is not None:
            session.task_started()
            task.add_done_callback(lambda _t: session.task_done())

    def _send_ack(self, sock: ServerSocket, ack_id: int, value: Any) -> None:
        """Send a handler's return value as the ack; a value JSON can't carry is logged, not raised."""
        if sock.session.closed:
            return
        if isinstance(value, tuple):
            data = list(value)
        elif value is None:
            data = []
        else:
            data = [value]
        try:
            if self._fast_json:
                fast = encode_ack_fast(sock.namespace, ack_id, data)
                if fast is not None:
                    sock.deliver((Frame(b"4" + fast),))
                    return
            frames = self._encode_packet(Packet(PacketType.ACK, sock.namespace, data, ack_id))
        except (TypeError, ValueError, OverflowError) as exc:
            self.logger.error("cannot send the ack of %s: %s", sock.sid, exc)
            return
        sock.deliver(frames)

    def _log_failure(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.logger.error("event handler failed", exc_info=exc)
