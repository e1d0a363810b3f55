"""A bare Engine.IO v4 server with python-engineio's ``AsyncServer`` surface.

Use it for Engine.IO-only apps (no namespaces, no events) and for the official engine.io-protocol
test suite. A Socket.IO :class:`aiosio.AsyncServer` runs on the same engine, and its ``sio.eio`` is an
instance of this class too (see :class:`aiosio.server.engine.SocketIOEngine`), so what python-socketio
apps do with ``sio.eio`` (``disconnect``, ``send``, ``transport``, ``get_session`` …) works the same.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

from .engine.eager import start_task
from .engine.options import CorsSetting, EngineOptions
from .engine.request import environ_of
from .engine.server import EngineCore, EngineHandler
from .engine.session import CloseReason, EngineSession
from .protocol.engineio import Packet, PacketType
from .protocol.frames import Frame
from .transport.asgi import AsgiEngineTransport
from .transport.server import AiohttpEngineTransport

Handler = Callable[..., Any]

__all__ = ["AsyncServer"]


class AsyncServer:
    """An Engine.IO server for aiohttp, with python-engineio's ``AsyncServer`` API.

    Events: ``connect(sid, environ)`` (return False to refuse), ``message(sid, data)`` and
    ``disconnect(sid, reason)``; handlers may be plain functions or coroutines. The arguments are
    python-engineio's; aiosio's own engine options (``upgrade_timeout``, ``max_queue_packets``,
    ``max_queue_bytes``, ``volatile_threshold``, ``max_inflight``) are further keyword arguments, see
    :class:`~aiosio.engine.options.EngineOptions`. ``monitor_clients`` is accepted and ignored (every
    session has its own heartbeat timer).
    """

    reason = CloseReason
    #: The events :meth:`on` accepts.
    event_names = ["connect", "disconnect", "message"]
    #: The transports ``transports=`` may list.
    valid_transports = ["polling", "websocket"]

    def __init__(
        self,
        async_mode: str | None = None,
        ping_interval: float | tuple[float, float] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1000000,
        allow_upgrades: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        cookie: str | dict[str, Any] | None = None,
        cors_allowed_origins: CorsSetting = None,
        cors_credentials: bool = True,
        logger: bool | logging.Logger = False,
        json: Any = None,
        async_handlers: bool = True,
        monitor_clients: bool | None = None,
        transports: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        mode = _check_async_mode(async_mode)
        kwargs.pop("engineio_logger", None)  # a Socket.IO server argument, harmless here
        kwargs.update(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_http_buffer_size=max_http_buffer_size,
            allow_upgrades=allow_upgrades,
            http_compression=http_compression,
            compression_threshold=compression_threshold,
            cookie=cookie,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            transports=transports,
        )
        options = EngineOptions.from_kwargs(kwargs)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        self._bind(options, _make_logger(logger, "aiosio.engineio"), async_handlers, self)
        self._async_mode = mode

    def _bind(
        self, options: EngineOptions, logger: logging.Logger, async_handlers: bool, handler: EngineHandler
    ) -> None:
        """Set up the engine; ``handler`` is told of sessions and messages (this server, or Socket.IO)."""
        self.options = options
        self.logger = logger
        self.async_handlers = async_handlers
        self.handlers: dict[str, Handler] = {}
        self.core = EngineCore(options, handler)
        self._transport = AiohttpEngineTransport(self.core)
        self._asgi: AsgiEngineTransport | None = None
        self._async_mode = "aiohttp"
        #: Accepted sessions until their disconnect handler has run (lookups work inside it).
        self._accepted: dict[str, EngineSession] = {}

    # -- python-engineio attributes -----------------------------------------------------------------

    @property
    def async_mode(self) -> str:
        """``'aiohttp'`` (the default) or ``'asgi'``, as asked for; both serve either transport."""
        return self._async_mode

    @property
    def ping_interval(self) -> float:
        """Seconds between PINGs (python-engineio's name for ``options.ping_interval``)."""
        return self.options.ping_interval

    @property
    def ping_interval_grace_period(self) -> float:
        """Always 0: a ``(interval, grace)`` tuple is accepted, the grace is not needed."""
        return 0

    @property
    def ping_timeout(self) -> float:
        """Seconds a client has to answer a PING."""
        return self.options.ping_timeout

    @property
    def max_http_buffer_size(self) -> int:
        """The largest message or polling payload accepted, in bytes."""
        return self.options.max_http_buffer_size

    @property
    def allow_upgrades(self) -> bool:
        """Whether polling sessions are offered the WebSocket upgrade."""
        return self.options.allow_upgrades

    @property
    def http_compression(self) -> bool:
        """Whether polling responses are compressed."""
        return self.options.http_compression

    @property
    def compression_threshold(self) -> int:
        """Polling responses at least this long are compressed."""
        return self.options.compression_threshold

    @property
    def cookie(self) -> str | dict[str, Any] | None:
        """The sid cookie setting."""
        return self.options.cookie

    @property
    def cors_allowed_origins(self) -> CorsSetting:
        """The origins allowed to connect."""
        return self.options.cors_allowed_origins

    @property
    def cors_credentials(self) -> bool:
        """Whether CORS answers allow credentials."""
        return self.options.cors_credentials

    @property
    def transports(self) -> list[str]:
        """The transports served."""
        return list(self.options.transports)

    @property
    def sockets(self) -> Mapping[str, EngineSession]:
        """The open sessions by sid (read-only; python-engineio's ``sockets``)."""
        return MappingProxyType(self.core.sessions)

    def is_asyncio_based(self) -> bool:
        """Always True."""
        return True

    def async_modes(self) -> list[str]:
        """The async modes this server supports: ``['aiohttp', 'asgi']``."""
        return ["aiohttp", "asgi"]

    # -- setup --------------------------------------------------------------------------------------

    def attach(self, app: web.Application, engineio_path: str = "engine.io") -> None:
        """Serve Engine.IO on ``app`` at ``/<engineio_path>/``."""
        self._transport.attach(app, engineio_path)

    async def handle_request(self, *args: Any, **kwargs: Any) -> web.StreamResponse | None:
        """Answer one Engine.IO request: an aiohttp ``web.Request`` (for apps that add the route
        themselves instead of calling :meth:`attach`; the response is returned), or an ASGI
        ``(scope, receive, send)`` (answered through ``send``, as python-engineio's ASGI mode)."""
        if len(args) == 3 and isinstance(args[0], dict):
            transport = self._asgi
            if transport is None:
                transport = self._asgi = AsgiEngineTransport(self.core)
            await transport(*args)
            return None
        return await self._transport.handle(*args, **kwargs)

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register a handler for ``connect``, ``message`` or ``disconnect`` (also as a decorator)."""
        if event not in self.event_names:
            raise ValueError(f"unknown Engine.IO event {event!r}")

        def register(fn: Handler) -> Handler:
            self.handlers[event] = fn
            return fn

        return register if handler is None else register(handler)

    # -- sessions -----------------------------------------------------------------------------------

    def get(self, sid: str) -> EngineSession | None:
        """The open session with this sid, or None (aiosio's lookup; see also :attr:`sockets`)."""
        return self.core.get(sid)

    def _session(self, sid: str) -> EngineSession:
        """The session with this sid; KeyError as python-engineio raises it."""
        session = self.core.get(sid)
        if session is None:
            session = self._accepted.get(sid)
            if session is None:
                raise KeyError("Session not found")
        return session

    def _user_session(self, session: EngineSession) -> dict[Any, Any]:
        """The Engine.IO user session of ``session`` (this server keeps it in ``session.data``)."""
        data: dict[Any, Any] | None = session.data
        if data is None:
            data = session.data = {}
        return data

    def _store_user_session(self, session: EngineSession, value: dict[Any, Any]) -> None:
        session.data = value

    async def get_session(self, sid: str) -> dict[Any, Any]:
        """The user session dict of a client (empty at first); KeyError for an unknown sid."""
        return self._user_session(self._session(sid))

    async def save_session(self, sid: str, session: dict[Any, Any]) -> None:
        """Replace the user session dict of a client."""
        self._store_user_session(self._session(sid), session)

    @contextlib.asynccontextmanager
    async def session(self, sid: str) -> AsyncIterator[dict[Any, Any]]:
        """``async with eio.session(sid) as s:`` gives the user session and saves it afterwards."""
        data = await self.get_session(sid)
        yield data
        await self.save_session(sid, data)

    def transport(self, sid: str) -> str:
        """The transport a session uses now: ``'polling'`` or ``'websocket'``."""
        return self._session(sid).transport

    def generate_id(self) -> str:
        """A new random session id (URL-safe base64, as python-engineio's)."""
        return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()

    # -- sending and closing ------------------------------------------------------------------------

    async def send(self, sid: str, data: Any) -> None:
        """Send a message: ``bytes`` as binary, ``str`` as text, anything else as JSON text."""
        session = self.core.get(sid)
        if session is None:
            self.logger.warning("Cannot send to sid %s", sid)
            return
        session.send(_message_frame(data))

    async def send_packet(self, sid: str, pkt: Packet | Any) -> None:
        """Send a raw packet: an :class:`aiosio.protocol.engineio.Packet` (any type), or message data.

        python-engineio takes its own ``Packet`` object here; aiosio takes its own, and anything else
        is sent as :meth:`send` would.
        """
        if not isinstance(pkt, Packet):
            await self.send(sid, pkt)
            return
        session = self.core.get(sid)
        if session is None:
            self.logger.warning("Cannot send to sid %s", sid)
            return
        if pkt.type == PacketType.MESSAGE:
            session.send(_message_frame(pkt.data))
        else:
            data = pkt.data.encode() if isinstance(pkt.data, str) else pkt.data
            session.send(Frame.text(pkt.type, data))

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session's transport, or every session when ``sid`` is None (python-engineio's
        semantics: pass a sid you looked up, or everyone goes).

        The client is told (CLOSE packet); disconnect handlers run with reason ``server disconnect``.
        """
        if sid is None:
            for session in list(self.core.sessions.values()):
                session.close(CloseReason.SERVER_DISCONNECT)
            return
        found = self.core.get(sid)
        if found is not None:
            found.close(CloseReason.SERVER_DISCONNECT)

    async def shutdown(self) -> None:
        """Close every session (reason ``server shutting down``) and wait, bounded, for their tasks."""
        await self.core.shutdown()

    # -- async helpers ------------------------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, for python-engineio compatibility."""
        await asyncio.sleep(seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        """An ``asyncio.Queue``."""
        return asyncio.Queue(*args, **kwargs)

    def get_queue_empty_exception(self) -> type[Exception]:
        """``asyncio.QueueEmpty``."""
        return asyncio.QueueEmpty

    def create_event(self, *args: Any, **kwargs: Any) -> asyncio.Event:
        """An ``asyncio.Event``."""
        return asyncio.Event(*args, **kwargs)

    # -- EngineHandler ------------------------------------------------------------------------------

    async def on_connect(self, session: EngineSession) -> bool:
        """Run the ``connect`` handler; False refuses the session."""
        handler = self.handlers.get("connect")
        if handler is not None:
            try:
                result = handler(session.sid, environ_of(session.request))
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                self.logger.exception("connect handler failed")
                return False
            if result is False:
                return False
        self._accepted[session.sid] = session
        return True

    def on_message(self, session: EngineSession, data: str | bytes) -> None:
        """Dispatch a message to the ``message`` handler."""
        handler = self.handlers.get("message")
        if handler is not None:
            self._run(session, handler, (session.sid, data))

    def on_ping(self, session: EngineSession) -> None:
        """Nothing to check at the Engine.IO level."""

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """Run the ``disconnect`` handler with ``(sid, reason)`` (or ``(sid)`` if it takes one)."""
        if self._accepted.get(session.sid) is not session:
            return  # refused by the connect handler: it never connected, so it does not disconnect
        handler = self.handlers.get("disconnect")
        if handler is None:
            del self._accepted[session.sid]
            return
        args: tuple[Any, ...] = (session.sid, reason)
        try:
            if len(inspect.signature(handler).parameters) < 2:
                args = (session.sid,)
        except (TypeError, ValueError):
            pass
        self._run(session, handler, args, lambda: self._accepted.pop(session.sid, None))

    def _run(
        self,
        session: EngineSession,
        handler: Handler,
        args: tuple[Any, ...],
        after: Callable[[], Any] | None = None,
    ) -> None:
        try:
            result = handler(*args)
        except Exception:
            self.logger.exception("handler failed")
            result = None
        if not inspect.iscoroutine(result):
            if after is not None:
                after()
            return
        coro: Coroutine[Any, Any, Any] = result

        def done(_result: Any, exc: BaseException | None) -> None:
            if exc is not None and not isinstance(exc, asyncio.CancelledError):
                self.logger.error("handler failed", exc_info=exc)
            if after is not None:
                after()

        task = start_task(self.core.loop, coro, done)
        if task is not None:
            session.task_started()
            task.add_done_callback(lambda _t: session.task_done())


def _check_async_mode(async_mode: str | None) -> str:
    """The async mode asked for: ``'aiohttp'`` (None) or ``'asgi'``; any other is refused."""
    if async_mode not in (None, "aiohttp", "asgi"):
        raise ValueError("aiosio serves aiohttp and ASGI: async_mode must be 'aiohttp', 'asgi' or None")
    return async_mode or "aiohttp"


def _message_frame(data: Any) -> Frame:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return Frame(bytes(data), binary=True)
    text = data.encode() if isinstance(data, str) else orjson.dumps(data)
    if b"\x1e" in text:
        # The record separator splits long-polling payloads, so such text cannot be framed safely.
        raise ValueError("Engine.IO text messages may not contain the record separator \\x1e")
    return Frame.text(PacketType.MESSAGE, text)


def _make_logger(setting: bool | logging.Logger, name: str) -> logging.Logger:
    """python-socketio's ``logger`` argument: False (errors only), True (INFO), or a Logger."""
    if isinstance(setting, logging.Logger):
        return setting
    log = logging.getLogger(name)
    if setting:
        log.setLevel(logging.INFO)
    elif log.level == logging.NOTSET:
        log.setLevel(logging.ERROR)
    return log
