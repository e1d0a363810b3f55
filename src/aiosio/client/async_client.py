"""The asyncio Socket.IO client: python-socketio's ``AsyncClient`` API on aiohttp and aiosio's protocol core.

Life cycle. ``connect()`` makes one *attempt*: open an Engine.IO connection, send CONNECT for every
namespace, and (with ``wait``) wait for each to be accepted or refused. When an established connection
is lost, a reconnection task waits a jittered exponential backoff and makes attempts until one succeeds,
the attempts run out, or ``disconnect()``/``shutdown()``/Ctrl+C stops it; every attempt re-evaluates
``url``, ``headers`` and ``auth`` and re-joins every namespace.

Events the server sends before a namespace's CONNECT reply (python-socketio's server sends what its
connect handler emits first) or while the client's own ``connect`` handler is still running are held
(bounded, see :mod:`aiosio.client.inbox`) and delivered once it has finished, in order: every handler
of a connection sees ``connect`` first, and ``disconnect`` only after ``connect`` has finished.

Beyond python-socketio: ``emit()`` while (re)connecting is buffered (bounded) and sent once the namespace
is joined; acknowledgements awaited on a lost connection fail at once with
:class:`~aiosio.exceptions.DisconnectedError`; ``emit(..., timeout=...)`` sets an ack deadline and returns
a future for the ack.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from aiosio import exceptions
from aiosio.protocol.errors import ParseError
from aiosio.protocol.frames import Frame
from aiosio.protocol.jsoncodec import JSONModule
from aiosio.protocol.parser import PacketDecoder, Parser, make_parser
from aiosio.protocol.socketio import Packet, PacketType

from . import sigint
from .backoff import Backoff
from .dispatch import Handler, disconnect_args, find_handler
from .eio_state import normalize_transports
from .eio_view import EngineIOView
from .engine import EngineConnection, EngineError, EngineOptions
from .inbox import DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_HELD_EVENTS, InboxState, NamespaceInbox
from .namespace import AsyncClientNamespace
from .recovery import RecoveryState

default_logger = logging.getLogger("aiosio.client")
engine_logger = logging.getLogger("aiosio.client.engine")

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Handler)

#: A value or a (sync or async) function producing it, evaluated on every connection attempt.
Dynamic = Any


class DisconnectReason:
    """Reasons given to ``disconnect`` handlers (``AsyncClient.reason``).

    The first three are python-socketio's; the others name cases it reports as ``TRANSPORT_ERROR``,
    using socket.io-client's words.
    """

    #: The application called ``disconnect()``/``shutdown()``; no reconnection.
    CLIENT_DISCONNECT = "client disconnect"
    #: The server disconnected this namespace (``socket.disconnect()`` on the server); no reconnection.
    SERVER_DISCONNECT = "server disconnect"
    #: A request or the WebSocket failed (server down, network error); reconnection follows.
    TRANSPORT_ERROR = "transport error"
    #: The server closed the Engine.IO connection or the WebSocket; reconnection follows.
    TRANSPORT_CLOSE = "transport close"
    #: No PING from the server within pingInterval + pingTimeout; reconnection follows.
    PING_TIMEOUT = "ping timeout"
    #: The server sent something that is not a valid packet; reconnection follows.
    PARSE_ERROR = "parse error"


class _State(enum.Enum):
    IDLE = "idle"  # never connected, or ended for good
    CONNECTING = "connecting"  # the first connect() is making its attempt
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # between attempts, or in one, after a lost connection
    DISCONNECTING = "disconnecting"


@dataclass(eq=False, slots=True)
class _PendingAck:
    namespace: str
    event: str
    callback: Handler | None
    future: asyncio.Future[Any] | None
    timer: asyncio.TimerHandle | None = None
    #: False while the packet waits in the emit buffer: a lost connection does not concern it yet.
    sent: bool = False


@dataclass(eq=False, slots=True)
class _BufferedEmit:
    namespace: str
    frames: list[Frame]
    ack_id: int | None


def _ack_value(args: list[Any]) -> Any:
    """What ``call()`` returns: None, the only argument, or a tuple of them (as python-socketio)."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def _as_args(data: Any) -> list[Any]:
    # python-socketio's convention: a tuple is several arguments, None is none, anything else is one.
    if isinstance(data, tuple):
        return list(data)
    if data is None:
        return []
    return [data]


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Ack futures the caller never awaits must not log "exception was never retrieved".
    if not future.cancelled():
        future.exception()


async def _resolve(value: Dynamic) -> Any:
    """A connection parameter's value: call it if callable, await the result if awaitable."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


def _make_logger(logger: logging.Logger | bool, default: logging.Logger) -> logging.Logger:
    if isinstance(logger, logging.Logger):
        return logger
    if logger and default.level == logging.NOTSET:
        default.setLevel(logging.INFO)
        if not default.handlers:
            default.addHandler(logging.StreamHandler())
    return default


class AsyncClient:
    """A Socket.IO client for asyncio, with python-socketio's ``AsyncClient`` API.

    :param reconnection: reconnect automatically after a lost connection (default True).
    :param reconnection_attempts: attempts before giving up, 0 (default) for no limit.
    :param reconnection_delay: the first delay, in seconds; it doubles on every attempt.
    :param reconnection_delay_max: the largest delay, in seconds.
    :param randomization_factor: jitter, as a fraction of each delay (0.5: between half and 1.5 times).
        Unlike python-socketio, which adds ±this many *seconds*, the jitter is proportional, as in
        socket.io-client.
    :param logger: True to log at INFO, or a :class:`logging.Logger` to use.
    :param serializer: ``'default'`` (JSON with binary attachments) or ``'msgpack'``.
    :param json: a ``json``-compatible module to use instead of orjson (for this client only).
    :param handle_sigint: stop reconnection loops on Ctrl+C (main thread only).
    :param request_timeout: seconds allowed for each HTTP request and WebSocket handshake (default 5).
    :param http_session: an ``aiohttp.ClientSession`` to use (never closed by the client), or a
        function returning one per connection (closed with it).
    :param ssl_verify: False to accept any TLS certificate.
    :param websocket_extra_options: extra keyword arguments for ``aiohttp``'s ``ws_connect()``.
    :param timestamp_requests: add a cache-busting ``t=`` parameter to requests (default True).
    :param engineio_logger: True or a logger for Engine.IO transport logs.
    :param buffer_emits: buffer ``emit()`` calls made while (re)connecting and send them once the
        namespace is joined (default True). False raises ``BadNamespaceError`` instead, as
        python-socketio does.
    :param max_buffered_emits: the most emits kept while disconnected (default 1000); beyond it
        ``emit()`` raises ``BadNamespaceError``.
    :param max_held_events: the most events one namespace holds while waiting for its CONNECT reply
        or for its ``connect`` handler to finish (default 10,000); beyond it, or beyond
        ``max_held_bytes`` (default 16 MiB of received messages), events are dropped with a warning.
    :param max_held_bytes: see ``max_held_events``.
    :param strip_offsets: connection-state recovery: take the recovery offset a server with recovery
        on appends to events off their arguments before handlers see them (default True; False
        passes it on, as Node's client does). ``recovered`` tells whether the last connection was
        recovered (see docs/recovery.md).

    Handler order: every handler of a connection starts in the order its packets arrived (``connect``
    first, and it finishes before any event handler of its namespace starts). A plain function runs to
    completion when it starts; a coroutine function runs until its first ``await`` and then
    concurrently with the handlers after it.
    """

    reason = DisconnectReason

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: logging.Logger | bool = False,
        serializer: str = "default",
        json: JSONModule | None = None,
        handle_sigint: bool = True,
        *,
        request_timeout: float = 5,
        http_session: Any = None,
        ssl_verify: bool = True,
        websocket_extra_options: dict[str, Any] | None = None,
        timestamp_requests: bool = True,
        engineio_logger: logging.Logger | bool = False,
        buffer_emits: bool = True,
        max_buffered_emits: int = 1000,
        max_held_events: int = DEFAULT_MAX_HELD_EVENTS,
        max_held_bytes: int = DEFAULT_MAX_HELD_BYTES,
        strip_offsets: bool = True,
    ) -> None:
        # Validates the delays up front rather than on the first reconnection.
        Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.reconnection_delay = reconnection_delay
        self.reconnection_delay_max = reconnection_delay_max
        self.randomization_factor = randomization_factor
        self.handle_sigint = handle_sigint
        self.buffer_emits = buffer_emits
        self.max_buffered_emits = max_buffered_emits
        if max_held_events < 0 or max_held_bytes < 0:
            raise ValueError("max_held_events and max_held_bytes cannot be negative")
        self.max_held_events = max_held_events
        self.max_held_bytes = max_held_bytes
        self.logger = _make_logger(logger, default_logger)
        self._engine_logger = _make_logger(engineio_logger, engine_logger)
        #: The packet codec (the same parsers the server uses) and this connection's decoder.
        self._parser: Parser = make_parser(serializer, json)
        self._decoder: PacketDecoder = self._parser.decoder()
        self._engine_options = EngineOptions(
            request_timeout=request_timeout,
            http_session=http_session,
            ssl_verify=ssl_verify,
            websocket_extra_options=dict(websocket_extra_options or {}),
            timestamp_requests=timestamp_requests,
        )

        self.connection_url: Dynamic = None
        self.connection_headers: Dynamic = None
        self.connection_auth: Dynamic = None
        self.connection_transports: tuple[str, ...] | None = None
        self.connection_namespaces: list[str] = []
        self.socketio_path = "socket.io"
        #: The Engine.IO session id (namespaces each have their own: see :meth:`get_sid`).
        self.sid: str | None = None
        #: True while connected (set once ``connect()`` succeeds).
        self.connected = False
        #: Joined namespaces, mapped to their Socket.IO session ids.
        self.namespaces: dict[str, str | None] = {}
        #: Namespaces the server refused during the last attempt.
        self.failed_namespaces: list[str] = []
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespace_handlers: dict[str, AsyncClientNamespace] = {}

        self._state = _State.IDLE
        self._engine: EngineConnection | None = None
        self._wait_timeout: float = 1
        self._attempting = False
        self._joins: dict[str, asyncio.Future[bool]] = {}
        # Namespaces the server disconnected on this connection: emits to them are not buffered.
        self._server_left: set[str] = set()
        self._acks: dict[int, _PendingAck] = {}
        self._ack_ids = itertools.count(1)
        self._buffer: deque[_BufferedEmit] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._abort: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended: asyncio.Event | None = None
        # Per joined (or joining) namespace of the current attempt: events waiting for ``connect``.
        self._inboxes: dict[str, NamespaceInbox] = {}
        # Bytes of the messages fed to the codec since its last complete packet.
        self._rx_bytes = 0
        # Event handlers started as tasks whose first step has not run yet, and the events waiting
        # for them to take it: later handlers wait their turn (see _dispatch_event).
        self._pending_starts = 0
        self._deferred: deque[tuple[EngineConnection, str, int | None, list[Any]]] = deque()
        #: The Engine.IO connection, with python-engineio ``AsyncClient``'s attribute names.
        self.eio = EngineIOView(self)
        #: Connection-state recovery: pids and offsets per namespace.
        self._recovery = RecoveryState(strip_offsets)

    # -- registration -------------------------------------------------------------------------------

    def is_asyncio_based(self) -> bool:
        """Always True (python-socketio compatibility)."""
        return True

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register ``handler`` for ``event`` on ``namespace`` (default ``'/'``), or return a decorator.

        ``'*'`` as the event is a catch-all (called with the event name first); ``'*'`` as the
        namespace catches every namespace without handlers of its own (called with the namespace
        first). The lifecycle events are ``connect()``, ``connect_error(data)`` and
        ``disconnect(reason)``. Handlers may be plain functions or coroutine functions; what an event
        handler returns is the acknowledgement when the server asked for one.
        """
        ns = namespace or "/"

        def set_handler(func: _F) -> _F:
            self.handlers.setdefault(ns, {})[event] = func
            return func

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace='/chat')``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            func = args[0]
            self.on(func.__name__, func)
            return func

        def set_handler(func: _F) -> _F:
            self.on(func.__name__, func, *args, **kwargs)
            return func

        return set_handler

    def register_namespace(self, namespace_handler: AsyncClientNamespace) -> None:
        """Register a class-based namespace (an :class:`AsyncClientNamespace` instance)."""
        if not isinstance(namespace_handler, AsyncClientNamespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_client(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    # -- connection ---------------------------------------------------------------------------------

    async def connect(
        self,
        url: Dynamic,
        headers: Dynamic = {},  # noqa: B006 - python-socketio's signature; never mutated
        auth: Dynamic = None,
        transports: str | list[str] | None = None,
        namespaces: str | list[str] | None = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 1,
        retry: bool = False,
    ) -> None:
        """Connect to a Socket.IO server; raise :class:`~aiosio.exceptions.ConnectionError` on failure.

        :param url: the server's URL (``http(s)://`` or ``ws(s)://``; its path is ignored, its query
            string is sent). ``url``, ``headers`` and ``auth`` may be values or (async) functions
            returning them; functions are called again on every reconnection attempt.
        :param headers: extra HTTP headers for every request and the WebSocket handshake.
        :param auth: the authentication payload sent with each namespace's CONNECT.
        :param transports: ``'polling'``, ``'websocket'`` or both (default: polling, then an upgrade).
        :param namespaces: the namespaces to join (default: those with handlers, else ``'/'``).
        :param socketio_path: the server's endpoint path.
        :param wait: return only once every namespace has been joined (or has failed).
        :param wait_timeout: seconds allowed for the namespaces to be joined when ``wait``.
        :param retry: if the first attempt fails, keep trying with the reconnection settings.
        """
        if self._state is not _State.IDLE:
            raise exceptions.ConnectionError("Already connected")
        self.connection_transports = normalize_transports(transports)
        if namespaces is None:
            names = set(self.handlers) | set(self.namespace_handlers)
            names.discard("*")
            namespaces = sorted(names) or ["/"]
        elif isinstance(namespaces, str):
            namespaces = [namespaces]
        self.connection_namespaces = list(dict.fromkeys(namespaces))
        self.connection_url = url
        self.connection_headers = headers
        self.connection_auth = auth
        self.socketio_path = socketio_path
        self._wait_timeout = wait_timeout

        self._state = _State.CONNECTING
        self._loop = asyncio.get_running_loop()
        self._abort = asyncio.Event()
        self._ended = asyncio.Event()
        if self.handle_sigint:
            sigint.register(self)
        try:
            try:
                await self._attempt(wait, wait_timeout)
            except exceptions.ConnectionError:
                retrying = retry and self.reconnection and not self._abort.is_set()
                if retrying and await self._reconnect_loop():
                    return
                raise
        except BaseException:
            await self._finish()
            raise

    async def _attempt(self, wait: bool, wait_timeout: float) -> None:
        """One connection attempt; on success the state is CONNECTED, else ConnectionError is raised."""
        self._attempting = True
        try:
            await self._attempt_inner(wait, wait_timeout)
        finally:
            self._attempting = False

    async def _attempt_inner(self, wait: bool, wait_timeout: float) -> None:
        url = await _resolve(self.connection_url)
        headers = await _resolve(self.connection_headers) or {}
        auth = await _resolve(self.connection_auth)
        self.namespaces = {}
        self.failed_namespaces = []
        self._server_left = set()
        assert self.connection_transports is not None
        engine = self._new_engine()
        try:
            await engine.open(url, dict(headers), self.connection_transports, self.socketio_path)
        except EngineError as exc:
            self._engine = None
            for ns in self.connection_namespaces:
                await self._trigger_event("connect_error", ns, exc.data)
            raise exceptions.ConnectionError(exc.message) from None
        except BaseException:
            self._engine = None
            raise
        assert self._abort is not None
        if self._abort.is_set():
            await self._abandon(engine, [])
            raise exceptions.ConnectionError("Connection aborted")
        self.sid = engine.sid
        loop = asyncio.get_running_loop()
        self._joins = {ns: loop.create_future() for ns in self.connection_namespaces}
        self._inboxes = {
            ns: NamespaceInbox(ns, self.max_held_events, self.max_held_bytes)
            for ns in self.connection_namespaces
        }
        self._rx_bytes = 0
        # python-socketio sends an empty object when there is no auth; servers see {} either way.
        # A namespace with a session to recover also sends its pid and offset.
        recovery = self._recovery
        recovery.recovered.clear()
        for ns in self.connection_namespaces:
            self._send(engine, Packet(PacketType.CONNECT, ns, recovery.connect_payload(ns, auth)))
        if not wait:
            self._state = _State.CONNECTED
            self.connected = True
            return
        joins = list(self._joins.values())
        await asyncio.wait(joins, timeout=wait_timeout)
        missing = [ns for ns in self.connection_namespaces if ns not in self.namespaces]
        if self._abort.is_set() and not missing and engine is self._engine:
            # disconnect() was called as the last namespace joined (it returned at once, the attempt
            # being in this task): the connection was made, so it ends the way disconnect() ends one,
            # handlers included, and wait() returns.
            self._state = _State.CONNECTED
            self.connected = True
            await self.disconnect()
            return
        if missing or engine is not self._engine:
            joined = list(self.namespaces)
            await self._abandon(engine, joined)
            if self._abort.is_set():
                raise exceptions.ConnectionError("Connection aborted")
            if self.failed_namespaces:
                raise exceptions.ConnectionError(
                    "One or more namespaces failed to connect: " + ", ".join(self.failed_namespaces)
                )
            if engine.close_reason is not None and engine.close_reason != "client disconnect":
                raise exceptions.ConnectionError(f"Connection lost while connecting ({engine.close_reason})")
            raise exceptions.ConnectionError(
                f"Timed out after {wait_timeout}s waiting for namespaces: " + ", ".join(missing)
            )
        self._state = _State.CONNECTED
        self.connected = True

    def _new_engine(self) -> EngineConnection:
        engine: EngineConnection

        def on_message(data: str | bytes) -> None:
            if engine is self._engine:
                self._on_message(engine, data)

        def on_close(reason: str) -> None:
            self._on_engine_close(engine, reason)

        engine = EngineConnection(self._engine_options, on_message, on_close, self._engine_logger)
        self._engine = engine
        return engine

    async def _abandon(self, engine: EngineConnection, joined: list[str]) -> None:
        """Close an attempt's connection politely and run the disconnect handlers of what it joined."""
        if self._engine is engine:
            self._engine = None
            for ns in joined:
                self._send(engine, Packet(PacketType.DISCONNECT, ns))
        self.namespaces = {}
        self.sid = None
        self._decoder.reset()
        inboxes = self._close_inboxes()
        self._fail_acks(lambda p: p.sent, "the connection attempt failed")
        await engine.close()
        for ns in joined:
            await self._trigger_disconnect(inboxes.get(ns), ns, self.reason.CLIENT_DISCONNECT)

    async def _reconnect_loop(self) -> bool:
        """Attempt connections with backoff until one works (True) or reconnection stops (False)."""
        self._state = _State.RECONNECTING
        assert self._abort is not None
        backoff = Backoff(self.reconnection_delay, self.reconnection_delay_max, self.randomization_factor)
        attempts = 0
        while True:
            delay = backoff.duration()
            self.logger.info("Connection failed, new attempt in %.02f seconds", delay)
            try:
                await asyncio.wait_for(self._abort.wait(), delay)
            except TimeoutError:
                pass
            if self._abort.is_set():
                self.logger.info("Reconnection aborted")
                return False
            attempts += 1
            try:
                await self._attempt(True, self._wait_timeout)
            except (exceptions.ConnectionError, ValueError) as exc:
                self.logger.info("Reconnection attempt %d failed: %s", attempts, exc)
            except Exception:
                # A failing url/headers/auth function must not end reconnection silently.
                self.logger.exception("Reconnection attempt %d failed", attempts)
            else:
                self.logger.info("Reconnection successful")
                return True
            if self._abort.is_set():
                return False
            if self.reconnection_attempts and attempts >= self.reconnection_attempts:
                self.logger.info("Maximum reconnection attempts reached, giving up")
                return False

    async def wait(self) -> None:
        """Wait until the connection ends for good (disconnected and not reconnecting)."""
        if self._ended is not None:
            await self._ended.wait()

    async def disconnect(self) -> None:
        """Disconnect from the server; also stops a reconnection in progress (python-socketio keeps
        reconnecting, see ``shutdown()``). The ``disconnect`` handlers run before this returns."""
        state = self._state
        if state is _State.IDLE or state is _State.DISCONNECTING:
            return
        self._recovery.forget()
        if self._abort is not None:
            self._abort.set()
        for future in self._joins.values():
            if not future.done():
                future.set_result(False)
        if state is not _State.CONNECTED:
            # An attempt or a reconnection loop is running in another task; the abort ends it.
            task = self._reconnect_task
            if task is not None and task is not asyncio.current_task():
                await asyncio.gather(task, return_exceptions=True)
            return
        self._state = _State.DISCONNECTING
        engine = self._engine
        joined = list(self.namespaces)
        self._engine = None
        if engine is not None:
            for ns in joined:
                self._send(engine, Packet(PacketType.DISCONNECT, ns))
        self.namespaces = {}
        self.connected = False
        self.sid = None
        self._decoder.reset()
        inboxes = self._close_inboxes()
        self._fail_acks(lambda p: True, "the client disconnected")
        if engine is not None:
            await engine.close()
        for ns in joined:
            await self._trigger_disconnect(inboxes.get(ns), ns, self.reason.CLIENT_DISCONNECT)
        await self._finish()

    async def shutdown(self) -> None:
        """Stop the client: disconnect if connected, stop reconnecting if that is in progress."""
        await self.disconnect()

    async def _finish(self) -> None:
        """Enter IDLE for good: fail everything still waiting and release every task."""
        self._state = _State.IDLE
        self.connected = False
        self.namespaces = {}
        self.sid = None
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.aclose()
        self._fail_acks(lambda p: True, "the client is disconnected")
        self._buffer.clear()
        self._joins = {}
        self._close_inboxes()
        sigint.unregister(self)
        if self._ended is not None:
            self._ended.set()

    def _on_sigint(self) -> None:
        # Called from the signal handler, which may interrupt the event loop anywhere: only schedule.
        if self._abort is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._abort.set)

    # -- incoming -----------------------------------------------------------------------------------

    def _on_engine_close(self, engine: EngineConnection, reason: str) -> None:
        """The Engine.IO connection was lost (never called for a close we asked for)."""
        if engine is not self._engine:
            return
        self._engine = None
        joined = list(self.namespaces)
        self.namespaces = {}
        self.sid = None
        self.connected = False
        self._decoder.reset()
        inboxes = self._close_inboxes()
        self._fail_acks(lambda p: p.sent, f"the connection was lost ({reason})")
        for future in self._joins.values():
            if not future.done():
                future.set_result(False)
        if self._attempting:
            # The attempt waiting on the joins above reports the failure and cleans up.
            for ns in joined:
                self._spawn(self._trigger_disconnect(inboxes.get(ns), ns, reason))
            return
        reconnect = self.reconnection and self._state is _State.CONNECTED
        self._state = _State.RECONNECTING if reconnect else _State.DISCONNECTING
        self._reconnect_task = self._spawn(self._after_loss(engine, joined, inboxes, reason, reconnect))

    async def _after_loss(
        self,
        engine: EngineConnection,
        joined: list[str],
        inboxes: dict[str, NamespaceInbox],
        reason: str,
        reconnect: bool,
    ) -> None:
        try:
            await engine.aclose()
            for ns in joined:
                await self._trigger_disconnect(inboxes.get(ns), ns, reason)
            if reconnect and await self._reconnect_loop():
                return
            await self._finish()
        finally:
            if self._reconnect_task is asyncio.current_task():
                self._reconnect_task = None

    def _on_message(self, engine: EngineConnection, data: str | bytes) -> None:
        self._rx_bytes += len(data)
        packet = self._decoder.feed(data)  # ParseError ends the connection ('parse error')
        if packet is None:
            return
        size, self._rx_bytes = self._rx_bytes, 0
        ptype = packet.type
        ns = packet.namespace
        if ptype == PacketType.EVENT:
            if packet.id is None and self._recovery.pids:
                self._recovery.on_event(ns, packet.data)
            inbox = self._inboxes.get(ns)
            if inbox is not None and inbox.is_open:
                self._dispatch_event(engine, ns, packet.id, packet.data)
            elif inbox is not None and inbox.holds:
                self._hold(inbox, packet, size)
            else:
                self.logger.info("Ignoring event for namespace %s, which is not joined", ns)
        elif ptype == PacketType.ACK:
            self._on_ack(ns, packet.id, packet.data)
        elif ptype == PacketType.CONNECT:
            self._on_connect(ns, packet.data)
        elif ptype == PacketType.CONNECT_ERROR:
            self._on_connect_error(ns, packet.data)
        elif ptype == PacketType.DISCONNECT:
            self._on_server_disconnect(engine, ns)
        else:  # pragma: no cover - the decoders turn BINARY_* into EVENT/ACK
            raise ParseError(f"unexpected packet type {ptype.name}")

    def _hold(self, inbox: NamespaceInbox, packet: Packet, size: int) -> None:
        if inbox.hold(packet, size):
            return
        if inbox.dropped == 1:
            self.logger.warning(
                "Dropping events for namespace %s: more than %d events or %d bytes arrived before its "
                "connect handler finished (max_held_events, max_held_bytes)",
                inbox.namespace,
                inbox.max_events,
                inbox.max_bytes,
            )

    def _close_inboxes(self) -> dict[str, NamespaceInbox]:
        """Close every inbox of the current attempt; return them (disconnect handlers wait on them)."""
        inboxes, self._inboxes = self._inboxes, {}
        for inbox in inboxes.values():
            self._close_inbox(inbox)
        return inboxes

    def _close_inbox(self, inbox: NamespaceInbox) -> None:
        if inbox.state is InboxState.CONNECTING:
            # The connect handler is running: what arrived after CONNECT is still delivered after it.
            inbox.closing = True
            return
        if inbox.state is InboxState.WAITING and (inbox.held or inbox.dropped):
            self.logger.info(
                "Discarding %d events received for namespace %s, which was never joined",
                len(inbox.held) + inbox.dropped,
                inbox.namespace,
            )
        inbox.take()
        inbox.state = InboxState.CLOSED

    def _on_connect(self, ns: str, data: Any) -> None:
        inbox = self._inboxes.get(ns)
        if ns not in self.connection_namespaces or ns in self.namespaces:
            return
        if inbox is None or inbox.state is not InboxState.WAITING:
            return
        sid = data.get("sid") if isinstance(data, dict) else None
        self.namespaces[ns] = sid if isinstance(sid, str) else self.sid
        self._recovery.on_connect(ns, data)
        self.logger.info("Namespace %s is connected", ns)
        self._flush_buffer(ns)
        inbox.state = InboxState.CONNECTING
        engine = self._engine
        assert engine is not None
        joined = self._join_done(ns, True)
        inbox.connect_task = self._trigger_soon(
            "connect", ns, then=lambda: self._connect_finished(engine, inbox, joined)
        )

    def _connect_finished(
        self, engine: EngineConnection, inbox: NamespaceInbox, joined: Callable[[], None]
    ) -> None:
        """The connect handler is done: dispatch what was held, in order, then let events flow."""
        ns = inbox.namespace
        packets = inbox.take()
        inbox.state = InboxState.CLOSED if inbox.closing else InboxState.OPEN
        if inbox.dropped:
            self.logger.warning(
                "%d events for namespace %s were dropped while it was connecting", inbox.dropped, ns
            )
            inbox.dropped = 0
        for packet in packets:
            self._dispatch_event(engine, ns, packet.id, packet.data)
        inbox.settle()
        joined()
        if inbox.closing and not self._attempting:
            # Left while connecting: the connection may have no namespace any more.
            self._close_if_unused()

    async def _trigger_disconnect(self, inbox: NamespaceInbox | None, ns: str, reason: str) -> None:
        """Run the disconnect handler of ``ns``, once its connect handler (if running) has finished."""
        if inbox is not None:
            await inbox.wait_settled()
        await self._trigger_event("disconnect", ns, reason)

    def _on_connect_error(self, ns: str, data: Any) -> None:
        if ns not in self.connection_namespaces:
            return
        self.logger.info("Connection to namespace %s was rejected: %s", ns, data)
        self.namespaces.pop(ns, None)
        if ns not in self.failed_namespaces:
            self.failed_namespaces.append(ns)
        inbox = self._inboxes.get(ns)
        if inbox is not None:
            self._close_inbox(inbox)
        if not self._attempting:
            # Final: nothing will join this namespace again. (A failed attempt is retried instead.)
            refused = exceptions.ConnectionError(f"namespace {ns} refused the connection")
            self._drop_namespace_work(ns, refused)
        self._trigger_soon("connect_error", ns, data, then=self._join_done(ns, False))
        if not self._attempting:
            self._close_if_unused()

    def _on_server_disconnect(self, engine: EngineConnection, ns: str) -> None:
        if ns not in self.namespaces:
            return
        del self.namespaces[ns]
        self._server_left.add(ns)
        inbox = self._inboxes.get(ns)
        if inbox is not None:
            self._close_inbox(inbox)
        self.logger.info("Namespace %s was disconnected by the server", ns)
        why = f"the server disconnected namespace {ns}"
        if self._attempting:
            # The attempt fails and is retried: keep what is buffered, fail only what was sent.
            self._fail_acks(lambda p: p.sent and p.namespace == ns, why)
        else:
            self._drop_namespace_work(ns, exceptions.DisconnectedError(why))
        if inbox is not None and inbox.connect_task is not None:
            # Its connect handler is still running: the disconnect handler runs after it.
            self._spawn(self._trigger_disconnect(inbox, ns, self.reason.SERVER_DISCONNECT))
        else:
            self._trigger_soon("disconnect", ns, self.reason.SERVER_DISCONNECT)
        if not self._attempting:
            self._close_if_unused()

    def _join_done(self, ns: str, joined: bool) -> Callable[[], None]:
        join = self._joins.get(ns)

        def done() -> None:
            if join is not None and not join.done():
                join.set_result(joined)

        return done

    def _close_if_unused(self) -> None:
        """No namespace joined or pending any more: end the connection, without reconnecting."""
        if self.namespaces or any(not f.done() for f in self._joins.values()):
            return
        if self._state is not _State.CONNECTED:
            return
        engine, self._engine = self._engine, None
        self._state = _State.DISCONNECTING
        self.connected = False
        self.sid = None

        async def close() -> None:
            if engine is not None:
                await engine.close()
            await self._finish()

        self._reconnect_task = self._spawn(close())

    def _drop_namespace_work(self, ns: str, error: exceptions.SocketIOError) -> None:
        self._buffer = deque(b for b in self._buffer if b.namespace != ns)
        for ack_id, pending in list(self._acks.items()):
            if pending.namespace == ns:
                self._fail_ack(ack_id, error)

    def _dispatch_event(self, engine: EngineConnection, ns: str, ack_id: int | None, data: list[Any]) -> None:
        """Start the handler of an event, keeping handlers' start order that of arrival.

        A coroutine handler's task takes its first step on a later loop turn; until it has, later
        events wait in ``_deferred``, and :meth:`_started`, scheduled with ``call_soon`` right after
        that step (the loop's ready queue is first in, first out), runs them.
        """
        if self._pending_starts or self._deferred:
            self._deferred.append((engine, ns, ack_id, data))
            return
        self._run_event(engine, ns, ack_id, data)

    def _started(self) -> None:
        """Runs right after the first step of the task :meth:`_run_event` started; then the events
        deferred meanwhile are run, up to the next one that starts a task."""
        self._pending_starts -= 1
        while self._deferred and not self._pending_starts:
            self._run_event(*self._deferred.popleft())

    def _run_event(self, engine: EngineConnection, ns: str, ack_id: int | None, data: list[Any]) -> None:
        event = data[0]
        try:
            result = self._invoke(event, ns, tuple(data[1:]))
        except Exception:
            self.logger.exception("Error in the handler for event %r", event)
            return
        if inspect.isawaitable(result):
            self._spawn(self._finish_event(engine, ns, ack_id, event, result))
            # call_soon runs after the step create_task scheduled: until then later handlers wait.
            self._pending_starts += 1
            asyncio.get_running_loop().call_soon(self._started)
        else:
            self._send_ack(engine, ns, ack_id, result)

    async def _finish_event(
        self, engine: EngineConnection, ns: str, ack_id: int | None, event: str, pending: Awaitable[Any]
    ) -> None:
        try:
            result = await pending
        except Exception:
            self.logger.exception("Error in the handler for event %r", event)
            return
        self._send_ack(engine, ns, ack_id, result)

    def _send_ack(self, engine: EngineConnection, ns: str, ack_id: int | None, result: Any) -> None:
        # An ack belongs to the connection the event came on; after a reconnection it means nothing.
        if ack_id is None or engine is not self._engine or ns not in self.namespaces:
            return
        try:
            self._send(engine, Packet(PacketType.ACK, ns, _as_args(result), ack_id))
        except (TypeError, ValueError) as exc:
            # What the handler returned cannot be encoded: say so, and keep reading.
            self.logger.error("Cannot send the acknowledgement %s on %s: %s", ack_id, ns, exc)

    def _on_ack(self, ns: str, ack_id: int | None, data: list[Any]) -> None:
        pending = self._acks.get(ack_id) if ack_id is not None else None
        if ack_id is None or pending is None or pending.namespace != ns:
            self.logger.info("Ignoring unknown acknowledgement %s on %s", ack_id, ns)
            return
        del self._acks[ack_id]
        if pending.timer is not None:
            pending.timer.cancel()
        if pending.future is not None and not pending.future.done():
            pending.future.set_result(_ack_value(data))
        if pending.callback is not None:
            callback = pending.callback
            try:
                result = callback(*data)
            except Exception:
                self.logger.exception("Error in the acknowledgement callback of %r", pending.event)
                return
            if inspect.isawaitable(result):
                self._spawn(self._await_logged(result, f"the acknowledgement callback of {pending.event!r}"))

    async def _await_logged(self, awaitable: Awaitable[Any], what: str) -> None:
        try:
            await awaitable
        except Exception:
            self.logger.exception("Error in %s", what)

    def _invoke(self, event: str, namespace: str, args: tuple[Any, ...]) -> Any:
        """Call the application's handler for ``event`` (see :mod:`aiosio.client.dispatch`).

        Returns the handler's result, or an awaitable to finish it when the handler is async: plain
        handlers thus run synchronously, in the order packets arrived. Handler errors propagate.
        """
        handler, hargs = find_handler(self.handlers, event, namespace, args)
        if handler is not None:
            if event == "disconnect":
                hargs = disconnect_args(handler, hargs)
            return handler(*hargs)
        ns_handler = self.namespace_handlers.get(namespace)
        if ns_handler is None and "*" in self.namespace_handlers:
            ns_handler, args = self.namespace_handlers["*"], (namespace, *args)
        if ns_handler is not None:
            return ns_handler.trigger_event(event, *args)
        return None

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        """Run a lifecycle handler to completion; its errors are logged, not raised."""
        try:
            result = self._invoke(event, namespace, args)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception:
            self.logger.exception("Error in the %r handler of namespace %s", event, namespace)
            return None

    def _trigger_soon(
        self, event: str, namespace: str, *args: Any, then: Callable[[], None] | None = None
    ) -> asyncio.Task[None] | None:
        """Run a lifecycle handler now if it is plain, else start it as a task (returned); then call
        ``then``."""
        try:
            result = self._invoke(event, namespace, args)
        except Exception:
            self.logger.exception("Error in the %r handler of namespace %s", event, namespace)
            result = None
        if not inspect.isawaitable(result):
            if then is not None:
                then()
            return None

        async def finish(pending: Awaitable[Any]) -> None:
            try:
                await pending
            except Exception:
                self.logger.exception("Error in the %r handler of namespace %s", event, namespace)
            finally:
                if then is not None:
                    then()

        return self._spawn(finish(result))

    # -- outgoing -----------------------------------------------------------------------------------

    def _send(self, engine: EngineConnection, packet: Packet) -> None:
        engine.send(self._parser.encode(packet))

    def _can_buffer(self, ns: str) -> bool:
        if not self.buffer_emits or ns not in self.connection_namespaces:
            return False
        if self._state is _State.RECONNECTING:
            return True  # every namespace is tried again, even one refused by the last attempt
        return (
            self._state in (_State.CONNECTING, _State.CONNECTED)
            and ns not in self.failed_namespaces
            and ns not in self._server_left
        )

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Handler | None = None,
        timeout: float | None = None,
    ) -> asyncio.Future[Any] | None:
        """Emit ``event`` to the server.

        :param data: the argument; a tuple sends several arguments. ``bytes`` anywhere inside travel
            as binary.
        :param namespace: the namespace (default ``'/'``).
        :param callback: called with the server's acknowledgement arguments when they arrive.
        :param timeout: seconds to wait for the acknowledgement (requests one even without
            ``callback``).
        :returns: None, or, when ``callback`` or ``timeout`` is given, a future that resolves to the
            acknowledgement (as :meth:`call` returns it) or fails with
            :class:`~aiosio.exceptions.TimeoutError` or, as soon as the connection is lost,
            :class:`~aiosio.exceptions.DisconnectedError`; the callback is only called on success.

        While the client is connecting or reconnecting the emit is buffered and sent once
        ``namespace`` is joined (see ``buffer_emits``); otherwise an unjoined namespace raises
        :class:`~aiosio.exceptions.BadNamespaceError`.
        """
        want_ack = callback is not None or timeout is not None
        return self._emit(event, data, namespace, callback, timeout, want_ack)

    def _emit(
        self,
        event: str,
        data: Any,
        namespace: str | None,
        callback: Handler | None,
        timeout: float | None,
        want_ack: bool,
    ) -> asyncio.Future[Any] | None:
        ns = namespace or "/"
        ack_id = next(self._ack_ids) if want_ack else None
        # Encoding first: data JSON cannot carry fails here, in the caller, and nothing is registered.
        frames = self._parser.encode_event(ns, event, _as_args(data), ack_id)
        engine = self._engine
        sent = ns in self.namespaces and engine is not None and engine.is_open
        if not sent:
            if not self._can_buffer(ns):
                raise exceptions.BadNamespaceError(f"{ns} is not a connected namespace.")
            if len(self._buffer) >= self.max_buffered_emits:
                raise exceptions.BadNamespaceError(
                    f"{ns} is not connected and the emit buffer is full ({self.max_buffered_emits} events)"
                )
        future: asyncio.Future[Any] | None = None
        if ack_id is not None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            future.add_done_callback(_retrieve)
            pending = _PendingAck(ns, event, callback, future, sent=sent)
            if timeout is not None:
                pending.timer = loop.call_later(timeout, self._ack_timed_out, ack_id, timeout)
            self._acks[ack_id] = pending
            future.add_done_callback(lambda f: self._forget_cancelled(ack_id, f))
        if sent:
            assert engine is not None
            engine.send(frames)
        else:
            self.logger.info("Buffering event %r for namespace %s until it is joined", event, ns)
            self._buffer.append(_BufferedEmit(ns, frames, ack_id))
        return future

    async def send(self, data: Any, namespace: str | None = None, callback: Handler | None = None) -> None:
        """Emit a ``'message'`` event."""
        await self.emit("message", data=data, namespace=namespace, callback=callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float | None = 60
    ) -> Any:
        """Emit ``event`` and wait for the server's acknowledgement; return it.

        One argument is returned as is, several as a tuple, none as None. Raises
        :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds (None: no limit) and
        :class:`~aiosio.exceptions.DisconnectedError` as soon as the connection is lost.
        """
        future = self._emit(event, data, namespace, None, timeout, True)
        assert future is not None
        return await future

    def _flush_buffer(self, ns: str) -> None:
        engine = self._engine
        if engine is None or not self._buffer:
            return
        keep: deque[_BufferedEmit] = deque()
        for item in self._buffer:
            if item.namespace != ns:
                keep.append(item)
                continue
            engine.send(item.frames)
            if item.ack_id is not None and item.ack_id in self._acks:
                self._acks[item.ack_id].sent = True
        self._buffer = keep

    def _ack_timed_out(self, ack_id: int, timeout: float) -> None:
        pending = self._acks.get(ack_id)
        if pending is None:
            return
        # Like socket.io-client, an emit still buffered when its deadline passes is never sent.
        self._buffer = deque(b for b in self._buffer if b.ack_id != ack_id)
        self._fail_ack(
            ack_id,
            exceptions.TimeoutError(f"no acknowledgement of {pending.event!r} within {timeout} seconds"),
        )

    def _forget_cancelled(self, ack_id: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            pending = self._acks.pop(ack_id, None)
            if pending is not None and pending.timer is not None:
                pending.timer.cancel()

    def _fail_ack(self, ack_id: int, error: exceptions.SocketIOError) -> None:
        pending = self._acks.pop(ack_id, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self.logger.info("Acknowledgement of %r failed: %s", pending.event, error)
        if pending.future is not None and not pending.future.done():
            pending.future.set_exception(error)

    def _fail_acks(self, which: Callable[[_PendingAck], bool], why: str) -> None:
        for ack_id, pending in list(self._acks.items()):
            if which(pending):
                self._fail_ack(
                    ack_id,
                    exceptions.DisconnectedError(
                        f"{why} before the acknowledgement of {pending.event!r} arrived"
                    ),
                )

    # -- utilities ----------------------------------------------------------------------------------

    @property
    def recovered(self) -> bool:
        """True if the last connection recovered the session of every namespace it joined
        (connection-state recovery: same sids and rooms, missed events received)."""
        recovered = self._recovery.recovered
        return bool(self.namespaces) and all(ns in recovered for ns in self.namespaces)

    def is_recovered(self, namespace: str | None = None) -> bool:
        """True if ``namespace`` (default ``'/'``) recovered its session on the last connection."""
        return (namespace or "/") in self._recovery.recovered

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The session id of ``namespace`` (default ``'/'``), or None if it is not joined."""
        return self.namespaces.get(namespace or "/")

    def transport(self) -> str | None:
        """``'polling'`` or ``'websocket'``, or None when there is no connection."""
        return self._engine.transport if self._engine is not None else None

    def start_background_task(
        self, target: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kwargs: Any
    ) -> asyncio.Task[_T]:
        """Run ``target(*args, **kwargs)`` as an asyncio task (kept referenced until it ends)."""
        return self._spawn(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error("Background task failed", exc_info=task.exception())
