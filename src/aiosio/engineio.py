"""A bare Engine.IO v4 server with python-engineio's ``AsyncServer`` surface.

Use it for Engine.IO-only apps (no namespaces, no events) and for the official engine.io-protocol
test suite; Socket.IO apps use :class:`aiosio.AsyncServer`, which runs on the same engine.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from aiohttp import web

from .engine.eager import start_task
from .engine.options import EngineOptions
from .engine.server import EngineCore
from .engine.session import CloseReason, EngineSession
from .protocol.engineio import PacketType
from .protocol.frames import Frame
from .transport.environ import build_environ
from .transport.server import AiohttpEngineTransport

Handler = Callable[..., Any]

__all__ = ["AsyncServer"]


class AsyncServer:
    """An Engine.IO server for aiohttp.

    Events: ``connect(sid, environ)`` (return False to refuse), ``message(sid, data)`` and
    ``disconnect(sid, reason)``; handlers may be plain functions or coroutines. Keyword arguments are
    python-engineio's (``ping_interval``, ``ping_timeout``, ``max_http_buffer_size``,
    ``cors_allowed_origins`` …); see :class:`~aiosio.engine.options.EngineOptions`.
    """

    reason = CloseReason

    def __init__(
        self,
        async_mode: str | None = None,
        logger: bool | logging.Logger = False,
        json: Any = None,
        async_handlers: bool = True,
        **kwargs: Any,
    ) -> None:
        if async_mode not in (None, "aiohttp"):
            raise ValueError("aiosio runs on aiohttp only: async_mode must be 'aiohttp' or None")
        kwargs.pop("monitor_clients", None)
        kwargs.pop("engineio_logger", None)
        self.options = EngineOptions.from_kwargs(kwargs)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        self.logger = _make_logger(logger, "aiosio.engineio")
        self.async_handlers = async_handlers
        self.handlers: dict[str, Handler] = {}
        self.core = EngineCore(self.options, self)
        self._transport = AiohttpEngineTransport(self.core)
        self._accepted: set[str] = set()

    def attach(self, app: web.Application, engineio_path: str = "engine.io") -> None:
        """Serve Engine.IO on ``app`` at ``/<engineio_path>/``."""
        self._transport.attach(app, engineio_path)

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register a handler for ``connect``, ``message`` or ``disconnect`` (also as a decorator)."""
        if event not in ("connect", "message", "disconnect"):
            raise ValueError(f"unknown Engine.IO event {event!r}")

        def register(fn: Handler) -> Handler:
            self.handlers[event] = fn
            return fn

        return register if handler is None else register(handler)

    async def send(self, sid: str, data: Any) -> None:
        """Send a message: ``bytes`` as binary, ``str`` as text, anything else as JSON text."""
        session = self.core.get(sid)
        if session is None:
            self.logger.warning("send to unknown sid %s", sid)
            return
        session.send(_message_frame(data))

    async def send_packet(self, sid: str, data: Any) -> None:
        """Alias of :meth:`send` (python-engineio's lower-level name)."""
        await self.send(sid, data)

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session, or every session when ``sid`` is None."""
        if sid is None:
            for session in list(self.core.sessions.values()):
                session.close(CloseReason.SERVER_DISCONNECT)
            return
        found = self.core.get(sid)
        if found is not None:
            found.close(CloseReason.SERVER_DISCONNECT)

    def transport(self, sid: str) -> str:
        """The transport a session uses now: ``'polling'`` or ``'websocket'``."""
        session = self.core.get(sid)
        if session is None:
            raise KeyError(sid)
        return session.transport

    async def shutdown(self) -> None:
        """Close every session and stop the server's tasks."""
        await self.core.shutdown()

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, for python-engineio compatibility."""
        await asyncio.sleep(seconds)

    # -- EngineHandler ------------------------------------------------------------------------------

    async def on_connect(self, session: EngineSession) -> bool:
        """Run the ``connect`` handler; False refuses the session."""
        handler = self.handlers.get("connect")
        if handler is not None:
            try:
                result = handler(session.sid, build_environ(session.request))
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                self.logger.exception("connect handler failed")
                return False
            if result is False:
                return False
        self._accepted.add(session.sid)
        return True

    def on_message(self, session: EngineSession, data: str | bytes) -> None:
        """Dispatch a message to the ``message`` handler."""
        handler = self.handlers.get("message")
        if handler is not None:
            self._run(session, handler, session.sid, data)

    def on_ping(self, session: EngineSession) -> None:
        """Nothing to check at the Engine.IO level."""

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """Run the ``disconnect`` handler with ``(sid, reason)`` (or ``(sid)`` if it takes one)."""
        if session.sid not in self._accepted:
            return  # refused by the connect handler: it never connected, so it does not disconnect
        self._accepted.discard(session.sid)
        handler = self.handlers.get("disconnect")
        if handler is None:
            return
        args: tuple[Any, ...] = (session.sid, reason)
        try:
            if len(inspect.signature(handler).parameters) < 2:
                args = (session.sid,)
        except (TypeError, ValueError):
            pass
        self._run(session, handler, *args)

    def _run(self, session: EngineSession, handler: Handler, *args: Any) -> None:
        try:
            result = handler(*args)
        except Exception:
            self.logger.exception("handler failed")
            return
        if inspect.iscoroutine(result):
            coro: Coroutine[Any, Any, Any] = result
            task = start_task(self.core.loop, coro, self._handler_done)
            if task is not None:
                session.task_started()
                task.add_done_callback(lambda _t: session.task_done())

    def _handler_done(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.logger.error("handler failed", exc_info=exc)


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
