"""The Socket.IO v5 server: python-socketio's ``AsyncServer`` surface on aiosio's engine."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web

from .. import exceptions
from ..adapters.base import Adapter
from ..adapters.manager import AsyncManager
from ..engine.eager import start_task
from ..engine.options import EngineOptions
from ..engine.session import CloseReason, EngineSession
from ..engineio import _check_async_mode, _make_logger
from ..protocol import msgpack_parser
from ..protocol.engineio import PacketType as EioType
from ..protocol.errors import ParseError
from ..protocol.frames import Frame
from ..protocol.jsoncodec import JSONCodec
from ..protocol.socketio import Decoder, Packet, PacketType, encode, encode_ack_fast, encode_event_fast
from .engine import SocketIOEngine
from .handlers import Handler, HandlerRegistry, positional_capacity
from .namespace import AsyncNamespace
from .socket import CONNECT_QUEUED, CONNECT_RUNNING, Connection, ServerSocket


class _AckWaiter:
    """The callback ``call()`` hands an overridden ``manager.emit``: it also hears of a disconnect."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[list[Any]]) -> None:
        self.future = future

    def __call__(self, *args: Any) -> None:
        if not self.future.done():
            self.future.set_result(list(args))

    def fail(self, exc: BaseException) -> None:
        """The client went away before acknowledging."""
        if not self.future.done():
            self.future.set_exception(exc)


class AsyncServer:
    """A Socket.IO server for aiohttp, compatible with python-socketio's ``AsyncServer``.

    ``sio = AsyncServer(); sio.attach(app)`` serves Socket.IO at ``/socket.io/``. Handlers are
    registered with :meth:`on` / :meth:`event` and receive ``sid`` first; an event handler's return
    value is the acknowledgement. Engine.IO options (``ping_interval``, ``ping_timeout``,
    ``max_http_buffer_size``, ``cors_allowed_origins``, ``transports`` …) are keyword arguments, as in
    python-socketio; see :class:`~aiosio.engine.options.EngineOptions` for all of them.

    ``sio.eio`` is the Engine.IO server (python-engineio's API, see :class:`aiosio.engineio.AsyncServer`)
    and ``sio.manager`` the client manager (python-socketio's :class:`~aiosio.AsyncManager` API).
    """

    reason = CloseReason
    #: Event names that belong to the library (python-socketio's list); catch-alls never get them.
    reserved_events = ["connect", "disconnect"]

    def __init__(
        self,
        client_manager: AsyncManager | None = None,
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
        _check_async_mode(async_mode)
        if serializer not in ("default", "msgpack"):
            raise ValueError("serializer must be 'default' or 'msgpack'")
        engineio_logger = kwargs.pop("engineio_logger", None) or False
        for ignored in ("monitor_clients", "transport_kwargs"):
            kwargs.pop(ignored, None)
        self.options = EngineOptions.from_kwargs(kwargs)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        self.logger = _make_logger(logger, "aiosio.server")
        if client_manager is None:
            client_manager = AsyncManager()
        elif not isinstance(client_manager, AsyncManager):
            raise TypeError(
                "client_manager must be an aiosio.AsyncManager (or a subclass); message-queue "
                "managers are not provided yet, see docs/migration.md"
            )
        self.manager = client_manager
        #: Rooms and delivery (the manager's adapter), used directly on the hot paths.
        self._adapter: Adapter = client_manager.adapter
        #: Always ``'aiohttp'`` (python-socketio reads it from its Engine.IO server).
        self.async_mode = "aiohttp"
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
        #: The Engine.IO server, with python-engineio's API.
        eio_logger = _make_logger(engineio_logger, "aiosio.engineio")
        self.eio = SocketIOEngine(self, self.options, eio_logger, async_handlers)
        self._core = self.eio.core
        #: Set once the manager's ``initialize()`` ran (before the first connection).
        self.manager_initialized = False
        client_manager.set_server(self)
        # Manager methods a subclass overrides are called where python-socketio calls them; the
        # check is made once, here, so a plain AsyncManager adds nothing to any message.
        self._hooks = client_manager.overridden()
        #: ACKs go through an overridden ``trigger_callback`` (a flag: ACKs are a hot path).
        self._ack_hook = "trigger_callback" in self._hooks
        self._hook_tasks: dict[str, asyncio.Task[Any]] = {}
        if "emit" in self._hooks:
            # Every emit (send, call, namespaces' emits) goes through the manager; the class's own
            # emit stays the direct one, which AsyncManager.emit calls. An AsyncServer subclass
            # that overrides emit runs inside the manager's (its super().emit() delivers).
            if type(self).emit is not AsyncServer.emit:
                setattr(self, "_emit_direct", self.emit)  # noqa: B010
            setattr(self, "emit", self._emit_through_manager)  # noqa: B010

    # -- setup --------------------------------------------------------------------------------------

    def attach(self, app: web.Application, socketio_path: str = "socket.io") -> None:
        """Serve Socket.IO on ``app`` at ``/<socketio_path>/``; the app's shutdown also closes it."""
        self.eio.attach(app, socketio_path)
        app.on_shutdown.append(self._on_app_shutdown)

    async def handle_request(self, *args: Any, **kwargs: Any) -> web.StreamResponse:
        """Answer one Socket.IO HTTP request (an aiohttp ``web.Request``), for apps that add the
        route themselves instead of calling :meth:`attach`."""
        return await self.eio.handle_request(*args, **kwargs)

    def is_asyncio_based(self) -> bool:
        """Always True."""
        return True

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
        ``volatile=True`` drops the packet for clients that cannot take it right now. When the
        client manager overrides ``emit``, this goes through it (as in python-socketio).
        """
        ns = namespace or "/"
        args = self._args(data)
        targets = self._rooms(to if to is not None else room)
        exclude = self._rooms(skip_sid)
        if callback is not None:
            on_ack = self._callback_adapter(callback)
            for member in self._adapter.members(ns, targets, exclude):
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
        await self._adapter.broadcast(ns, frames, targets, exclude, volatile)

    #: The direct emit, whatever ``emit`` is bound to: what ``AsyncManager.emit`` calls.
    _emit_direct = emit

    async def _emit_through_manager(
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
        """``emit`` when the manager overrides it: python-socketio's call of ``manager.emit``."""
        extra: dict[str, Any] = {"ignore_queue": ignore_queue}
        if volatile:
            extra["volatile"] = True
        await self.manager.emit(
            event,
            data,
            namespace or "/",
            room=to if to is not None else room,
            skip_sid=skip_sid,
            callback=callback,
            **extra,
        )

    def _callback_adapter(self, callback: Callable[..., Any]) -> Callable[[list[Any] | BaseException], None]:
        def on_ack(result: list[Any] | BaseException) -> None:
            if isinstance(result, BaseException):
                # A callback has no way to receive an error (a dropped client just never acks);
                # call()'s own waiter does.
                if isinstance(callback, _AckWaiter):
                    callback.fail(result)
                return
            try:
                outcome = callback(*result)
            except Exception:
                self.logger.exception("ack callback failed")
                return
            if inspect.iscoroutine(outcome):
                start_task(self._core.loop, outcome, self._log_callback_failure)

        return on_ack

    def _log_callback_failure(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.logger.error("ack callback failed", exc_info=exc)

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

        Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds (None: wait as long
        as the client is connected), and :class:`~aiosio.exceptions.DisconnectedError` at once if the
        client goes away first.
        """
        target = to or sid
        if target is None:
            raise ValueError("call() needs the sid of one client")
        ns = namespace or "/"
        sock = self._sockets.get(target)
        if sock is None or sock.namespace != ns or sock.gone or sock.session.closed:
            raise exceptions.DisconnectedError(f"{target} is not connected to {ns}")
        future: asyncio.Future[list[Any]] = self._core.loop.create_future()
        ack_id: int | None = None
        if "emit" in self._hooks:
            await self.emit(event, data, to=target, namespace=ns, callback=_AckWaiter(future))
        else:

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
            if ack_id is not None:
                sock.pop_ack(ack_id)
        if not result:
            return None
        return result[0] if len(result) == 1 else tuple(result)

    # -- rooms and sessions -------------------------------------------------------------------------

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put a client in a room."""
        if "enter_room" in self._hooks:
            await self.manager.enter_room(sid, namespace or "/", room)
        else:
            self._adapter.join(namespace or "/", sid, room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take a client out of a room."""
        if "leave_room" in self._hooks:
            await self.manager.leave_room(sid, namespace or "/", room)
        else:
            self._adapter.leave(namespace or "/", sid, room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client out of a room."""
        if "close_room" in self._hooks:
            await self.manager.close_room(room, namespace or "/")
        else:
            self._adapter.close_room(namespace or "/", room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in (its own sid room first), from ``manager.get_rooms``."""
        return self.manager.get_rooms(sid, namespace or "/")

    def _socket(self, sid: str, namespace: str | None) -> ServerSocket:
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != (namespace or "/"):
            raise KeyError(f"unknown sid {sid!r} in namespace {namespace or '/'!r}")
        return sock

    def _socket_in(self, sid: str, namespace: str) -> ServerSocket | None:
        """The socket ``sid`` of ``namespace`` (connecting, connected or in its disconnect handler)."""
        sock = self._sockets.get(sid)
        return sock if sock is not None and sock.namespace == namespace else None

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
        """Disconnect a client from a namespace; it is told (DISCONNECT) and will not reconnect.

        A client whose connect handler is still running is refused at once (CONNECT_ERROR); its
        disconnect handler runs only if the connect handler then accepts it.
        """
        ns = namespace or "/"
        sock = self._sockets.get(sid)
        if sock is None or sock.namespace != ns or sock.gone:
            return
        if not sock.ready:
            self._send_connect_error(sock.conn, ns, {"message": "Connection rejected by server"})
            if sock.connecting == CONNECT_RUNNING:
                self._leave_pending(sock, CloseReason.SERVER_DISCONNECT)
            else:
                self._forget_socket(sock)
            return
        if (
            "can_disconnect" in self._hooks
            and not ignore_queue
            and (not await self.manager.can_disconnect(sid, ns) or sock.gone)
        ):
            return
        sock.deliver(self._encode_packet(Packet(PacketType.DISCONNECT, ns)))
        sock.flush_held()
        self._drop_socket(sock, CloseReason.SERVER_DISCONNECT)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close every connection cleanly (clients see a server close and may reconnect elsewhere)."""
        self._closing = True
        await self.eio.shutdown()

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, for python-socketio compatibility."""
        await asyncio.sleep(seconds)

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> Any:
        """The Socket.IO Admin UI is not supported yet: this raises ``NotImplementedError``."""
        raise NotImplementedError("aiosio does not support the Socket.IO Admin UI yet; see docs/migration.md")

    # -- Engine.IO callbacks ------------------------------------------------------------------------

    async def on_connect(self, session: EngineSession) -> bool:
        """A new Engine.IO session: set up its Socket.IO state (namespaces come later)."""
        if self._closing:
            return False
        if not self.manager_initialized:
            self.manager_initialized = True
            self.manager.initialize()
        decoder = None if self.serializer == "msgpack" else Decoder(self.json, self.max_attachments)
        conn = Connection(session, decoder)
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
                if self._ack_hook:
                    self._run_hook(sock.sid, self.manager.trigger_callback(sock.sid, packet.id, packet.data))
                else:
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

    def urgent(self, session: EngineSession, data: str | bytes) -> bool:
        """True for an ACK: read while this connection's events wait, it is handled at once, as a
        running handler may be waiting for it (see :meth:`EngineSession.message`)."""
        conn: Connection | None = session.data
        if conn is None:
            return False
        if conn.decoder is None:
            try:
                return msgpack_parser.decode(data).type == PacketType.ACK
            except ParseError:
                return False  # reported in turn, when the message is handled
        return isinstance(data, str) and data[:1] == "3" and conn.decoder.pending is None

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """The Engine.IO session ended: every namespace of it disconnects with ``reason``."""
        conn: Connection | None = session.data
        if conn is None:
            return
        for sock in list(conn.sockets.values()):
            self._drop_socket(sock, reason)

    def _resolve_ack(self, sid: str, namespace: str | None, ack_id: int, data: list[Any]) -> None:
        """Complete what waits for ack ``ack_id`` of ``sid`` (``AsyncManager.trigger_callback``)."""
        sock = self._sockets.get(sid)
        if sock is None or (namespace is not None and sock.namespace != namespace):
            return
        callback = sock.pop_ack(ack_id)
        if callback is not None:
            callback(data)

    def _run_hook(self, sid: str, coro: Coroutine[Any, Any, Any]) -> None:
        """Run an overridden manager method in a task, after the earlier ones for the same sid."""
        previous = self._hook_tasks.get(sid)

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            await coro

        task = self._core.loop.create_task(run())
        self._hook_tasks[sid] = task

        def done(t: asyncio.Task[Any]) -> None:
            if self._hook_tasks.get(sid) is t:
                del self._hook_tasks[sid]
            if not t.cancelled() and t.exception() is not None:
                self.logger.error("client manager failed", exc_info=t.exception())

        task.add_done_callback(done)

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
        for frame in self._encode_packet(Packet(PacketType.CONNECT, sock.namespace, {"sid": sock.sid})):
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
            for frame in self._encode_packet(Packet(PacketType.DISCONNECT, sock.namespace, error)):
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

        task = start_task(self._core.loop, result, on_done)
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
