"""The Socket.IO v5 server: python-socketio's ``AsyncServer`` surface on aiosio's engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..adapters.base import Adapter, Selector
from ..adapters.cluster import ClusterAdapter
from ..engine.options import EngineOptions
from ..engine.session import CloseReason
from ..engineio import _check_async_mode, _make_logger
from ..protocol.parser import Parser, make_parser
from ..recovery.memory import MemoryStore
from ..recovery.options import RecoveryOptions
from ..recovery.store import RecoveryStats, RecoveryStore
from .cluster import AdapterHostView, ClusterOps
from .engine import SocketIOEngine
from .handlers import Handler, HandlerRegistry
from .lifecycle import Lifecycle
from .manager import AsyncManager
from .namespace import AsyncNamespace
from .socket import ServerSocket

if TYPE_CHECKING:
    from ..admin.instrument import InstrumentedAsyncServer

#: Why connection-state recovery is refused on a cluster whose driver keeps no log.
CLUSTER_RECOVERY_REFUSED = (
    "connection_state_recovery needs a cluster adapter that keeps a log: "
    "AsyncRedisManager(mode='streams') or the --workers hub; the classic and sharded Redis "
    "adapters cannot replay what other servers sent"
)


class AsyncServer(Lifecycle, ClusterOps):
    """A Socket.IO server for aiohttp, compatible with python-socketio's ``AsyncServer``.

    ``sio = AsyncServer(); sio.attach(app)`` serves Socket.IO at ``/socket.io/``. Handlers are
    registered with :meth:`on` / :meth:`event` and receive ``sid`` first; an event handler's return
    value is the acknowledgement. Engine.IO options (``ping_interval``, ``ping_timeout``,
    ``max_http_buffer_size``, ``cors_allowed_origins``, ``transports`` …) are keyword arguments, as in
    python-socketio; see :class:`~aiosio.engine.options.EngineOptions` for all of them.

    ``connection_state_recovery`` (off by default) turns on Node's connection-state recovery: a
    dict of :class:`~aiosio.recovery.RecoveryOptions` fields (``{}`` or True for the defaults). A
    client whose connection is lost comes back with the same sid, rooms and session and gets the
    events it missed; :meth:`recovered` tells a connect handler which case it is. See docs/recovery.md.

    ``sio.eio`` is the Engine.IO server (python-engineio's API, see :class:`aiosio.engineio.AsyncServer`)
    and ``sio.manager`` the client manager (python-socketio's :class:`~aiosio.AsyncManager` API). The
    server reaches its sockets through the manager's adapter (``sio.manager.adapter``), and only
    through it, except to write to one sid of this process.

    The class is assembled by concern: emitting (:mod:`.emitting`), incoming packets and handler
    runs (:mod:`.dispatch`), connect/disconnect (:mod:`.lifecycle`); setup, rooms, sessions and
    shutdown are here.
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
        connection_state_recovery: bool | dict[str, Any] | RecoveryOptions | None = None,
        **kwargs: Any,
    ) -> None:
        mode = _check_async_mode(async_mode)
        #: The packet codec, chosen once (raises ValueError for an unknown ``serializer``).
        self._parser: Parser = make_parser(serializer, json, max_attachments)
        self._encode = self._parser.encode_event
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
                "client_manager must be an aiosio.AsyncManager (or a subclass, such as "
                "aiosio.AsyncRedisManager); see docs/migration.md"
            )
        self.manager = client_manager
        #: Rooms and delivery (the manager's adapter), used directly on the hot paths.
        self._adapter: Adapter = client_manager.adapter
        #: ``'aiohttp'`` or ``'asgi'``, as asked for (both serve aiohttp apps and ASGI alike).
        self.async_mode = mode
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.serializer = serializer
        self.max_attachments = max_attachments
        #: A connection in no namespace for this long is closed (Node's ``connectTimeout``); checked
        #: whenever a PING is due, so it takes effect within one ``ping_interval`` after.
        self.connect_timeout = connect_timeout
        self.namespaces: Sequence[str] | str = ["/"] if namespaces is None else namespaces
        self._registry = HandlerRegistry()
        self.handlers = self._registry.handlers
        self.namespace_handlers = self._registry.namespace_handlers
        self._sockets: dict[str, ServerSocket] = {}
        #: Connection-state recovery: its options and store (None when off), and pid -> socket.
        self._recovery_options = RecoveryOptions.of(connection_state_recovery)
        self._recovery: RecoveryStore | None = None
        #: True when the store's offsets come from the cluster's log (the adapter gives them).
        self._recovery_logged = False
        if self._recovery_options is not None:
            if isinstance(self._adapter, ClusterAdapter):
                if not self._use_logged_store(self._adapter):
                    # Events from other nodes are not kept here: a "recovered" client could have
                    # missed some. Refused rather than lose them quietly.
                    raise ValueError(CLUSTER_RECOVERY_REFUSED)
            else:
                self._recovery = MemoryStore(self._recovery_options, delivery_window=self._delivery_window())
        self._live_pids = {}
        self._closing = False
        self._server_handlers = {}
        #: The adapter's ``init`` (started once; started again after it failed).
        self._adapter_init: asyncio.Task[None] | None = None
        #: Set once the adapter's ``init`` succeeded (checked per new connection).
        self._adapter_ready = False
        #: The Engine.IO server, with python-engineio's API.
        eio_logger = _make_logger(engineio_logger, "aiosio.engineio")
        self.eio = SocketIOEngine(self, self.options, eio_logger, async_handlers)
        self.eio._async_mode = mode
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

    def _delivery_window(self) -> float:
        # A packet sent longer ago than this before a connection was found dead had reached the
        # client or was waiting behind a PING the client never answered in time.
        return 2 * (self.options.ping_interval + self.options.ping_timeout)

    def _use_logged_store(self, adapter: ClusterAdapter) -> bool:
        """Recovery on a cluster: the store of the adapter's log, if its driver keeps one (then
        broadcasts carry the log's offsets, and sessions are written through). False if not."""
        assert self._recovery_options is not None
        store = adapter.recovery_store(self._recovery_options, self._delivery_window())
        if store is None:
            return False
        self._recovery = store
        self._recovery_logged = True
        adapter.on_rooms_changed = self._session_changed
        return True

    # -- setup --------------------------------------------------------------------------------------

    def attach(self, app: web.Application, socketio_path: str = "socket.io") -> None:
        """Serve Socket.IO on ``app`` at ``/<socketio_path>/``; the app's shutdown also closes it."""
        self.eio.attach(app, socketio_path)
        app.on_startup.append(self._on_app_startup)
        app.on_shutdown.append(self._on_app_shutdown)

    async def handle_request(self, *args: Any, **kwargs: Any) -> web.StreamResponse | None:
        """Answer one Socket.IO request, for apps that add the route themselves instead of calling
        :meth:`attach`: an aiohttp ``web.Request`` (the response is returned) or an ASGI
        ``(scope, receive, send)`` (see :class:`aiosio.ASGIApp`)."""
        return await self.eio.handle_request(*args, **kwargs)

    def is_asyncio_based(self) -> bool:
        """Always True."""
        return True

    async def _on_app_startup(self, _app: web.Application) -> None:
        await self._start_adapter()

    async def _on_app_shutdown(self, _app: web.Application) -> None:
        await self.shutdown()

    async def _start_adapter(self) -> bool:
        """The adapter's ``init``, once: at app startup, or before the first connection.

        Concurrent callers wait for the same ``init``. If it fails, the error is logged, this
        returns False (the connection is refused), and the next caller tries again.
        """
        adapter = self._adapter
        if self._recovery is not None and not self._recovery_logged and isinstance(adapter, ClusterAdapter):
            # An adapter installed after construction (``--workers``): its log's store, or recovery
            # is turned off rather than claim a recovery that lost what other servers sent.
            self._recovery = None
            if not self._use_logged_store(adapter):
                self.logger.warning("connection-state recovery is off: %s", CLUSTER_RECOVERY_REFUSED)
        try:
            task = self._adapter_init
            if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
                task = self._adapter_init = asyncio.ensure_future(self._adapter.init(AdapterHostView(self)))
            await asyncio.shield(task)
        except Exception:
            self.logger.exception("the adapter failed to start; connections are refused until it does")
            return False
        self._adapter_ready = True
        return True

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

    # -- rooms and sessions -------------------------------------------------------------------------

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put a client in a room (a client of another node too, with a cluster adapter)."""
        ns = namespace or "/"
        if "enter_room" in self._hooks:
            await self.manager.enter_room(sid, ns, room)
        elif self._adapter.is_sid_room(ns, sid):
            self._adapter.join(ns, sid, room)  # a logged cluster's adapter writes the session through
            if self._recovery is not None and not self._recovery_logged:
                self._session_changed(sid, ns)
        else:
            await self._adapter.add_sockets(ns, Selector((sid,), sids=True), (room,))

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take a client out of a room."""
        ns = namespace or "/"
        if "leave_room" in self._hooks:
            await self.manager.leave_room(sid, ns, room)
        elif self._adapter.is_sid_room(ns, sid):
            self._adapter.leave(ns, sid, room)
            if self._recovery is not None and not self._recovery_logged:
                self._session_changed(sid, ns)
        else:
            await self._adapter.del_sockets(ns, Selector((sid,), sids=True), (room,))

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client out of a room."""
        if "close_room" in self._hooks:
            await self.manager.close_room(room, namespace or "/")
        else:
            await self._adapter.del_sockets(namespace or "/", Selector((room,)), (room,))

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

    def recovered(self, sid: str, namespace: str | None = None) -> bool:
        """True if this client's connection was recovered (connection-state recovery): it kept
        its sid, rooms and session, and was sent what it missed. False for a new session, an
        unknown sid, or with recovery off. Meant for the ``connect`` handler."""
        sock = self._sockets.get(sid)
        return sock is not None and sock.namespace == (namespace or "/") and sock.recovered

    def recovery_stats(self) -> RecoveryStats | None:
        """The connection-state recovery store's counters (kept and evicted packets, sessions,
        restores), or None with recovery off."""
        return None if self._recovery is None else self._recovery.stats()

    def _session_changed(self, sid: str, namespace: str) -> None:
        """A socket's rooms or session changed: a store that outlives this process writes it through."""
        store = self._recovery
        sock = self._sockets.get(sid)
        if store is not None and sock is not None and sock.namespace == namespace and sock.ready:
            store.save_session(self._session_state(sock))

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[Any, Any]:
        """The user session dict of a client (empty at first)."""
        sock = self._socket(sid, namespace)
        if sock.user is None:
            sock.user = {}
        return sock.user

    async def save_session(self, sid: str, session: dict[Any, Any], namespace: str | None = None) -> None:
        """Replace the user session dict of a client."""
        sock = self._socket(sid, namespace)
        sock.user = session
        if self._recovery is not None:
            self._session_changed(sid, namespace or "/")
        obs = self._obs
        if obs is not None and obs.session_saved is not None and sock.ready:
            obs.session_saved(sid, sock.namespace)

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

    # -- lifecycle ----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close every connection cleanly (clients see a server close and may reconnect elsewhere)."""
        self._closing = True
        await self.eio.shutdown()
        task, self._adapter_init = self._adapter_init, None
        self._adapter_ready = False
        if task is not None:
            if not task.done():
                task.cancel()
            await asyncio.wait({task})
            # Even after a failed or cancelled init: it may have connected part of the way.
            try:
                await self._adapter.close()
            except Exception:
                self.logger.exception("the adapter failed to close")

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
    ) -> InstrumentedAsyncServer:
        """Report to the `Socket.IO Admin UI <https://socket.io/docs/v4/admin-ui/>`_ (python-socketio's
        ``instrument``; the protocol of Node's ``@socket.io/admin-ui`` 0.5), on ``namespace``.

        ``auth``: False (no authentication), a dict of credentials (usually ``username`` and
        ``password``), a list of them, or a callable (plain or async) given the client's auth and
        returning whether it may enter; it must be given. ``mode='production'`` reports only
        ``server_stats``; ``read_only`` refuses the UI's operations (join, leave, disconnect, emit);
        ``server_id`` names this server in the UI. Returns the
        :class:`~aiosio.admin.InstrumentedAsyncServer` (``await it.shutdown()`` stops it). See
        docs/admin-ui.md.
        """
        from ..admin.instrument import InstrumentedAsyncServer

        return InstrumentedAsyncServer(
            self,
            auth=auth,
            mode=mode,
            read_only=read_only,
            server_id=server_id,
            namespace=namespace,
            server_stats_interval=server_stats_interval,
        )
