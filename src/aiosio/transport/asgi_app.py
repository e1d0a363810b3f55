"""``aiosio.ASGIApp``: a Socket.IO server as an ASGI application, as python-socketio's ``ASGIApp``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from .asgi import Receive, Send
from .asgi_request import Scope
from .static_files import StaticFiles, static_file

logger = logging.getLogger("aiosio.transport")

ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Any]


class AsgiServable(Protocol):
    """What :class:`ASGIApp` needs of its server: an ``aiosio.AsyncServer`` (or an Engine.IO one)."""

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """Answer one request; ``(scope, receive, send)`` for ASGI."""
        ...

    async def shutdown(self) -> None:
        """Close every connection."""
        ...


async def _call(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


class ASGIApp:
    """An ASGI application serving a Socket.IO (or Engine.IO) server, python-socketio's ``ASGIApp``.

    Requests under ``/<socketio_path>/`` go to the server (all requests when ``socketio_path`` is
    None, ``''`` or ``'/'``); other HTTP requests are served from ``static_files`` (python-socketio's
    rules, see :mod:`aiosio.transport.static_files`) or passed to ``other_asgi_app``, else answered
    404. Mounted in Starlette or FastAPI (``app.mount('/ws', ASGIApp(sio))``) the path is matched
    below the mount point (the scope's ``root_path``) as well as in full, so clients connect with
    ``path='/ws/socket.io'``; ``static_files`` keys match either way too.

    Lifespan: at startup the server's adapter starts (what ``attach`` does on aiohttp's
    ``on_startup``; if it fails that is logged and startup goes on, the connections are refused
    until a later one starts it) and then ``on_startup`` runs; at shutdown ``on_shutdown`` runs and
    then the server shuts down (``sio.shutdown()``: every client gets a clean close). With
    ``other_asgi_app`` and neither hook, the lifespan is the other app's, with the server's startup
    and shutdown woven in; if that app does not take part in the lifespan (it ends or fails before
    its startup completes), this app runs it alone.
    """

    def __init__(
        self,
        socketio_server: AsgiServable,
        other_asgi_app: ASGI | None = None,
        static_files: StaticFiles | None = None,
        socketio_path: str | None = "socket.io",
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
    ) -> None:
        self.socketio_server = socketio_server
        self.other_asgi_app = other_asgi_app
        self.static_files: StaticFiles = static_files or {}
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        path = socketio_path
        if path is not None:
            # '' and '/' are the root, which every path is under (as in python-engineio).
            path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        #: ``/<socketio_path>/``, ``/`` or None (every request is the server's).
        self.socketio_path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        kind = scope["type"]
        if kind == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            return
        path = scope.get("path", "/")
        route = _route_path(scope)
        prefix = self.socketio_path
        if prefix is None or _below(route, prefix) or _below(path, prefix):
            await self.socketio_server.handle_request(scope, receive, send)
            return
        if kind == "http" and self.static_files:
            # The full path first (python-socketio's), then the path below the mount point.
            for candidate in dict.fromkeys((path, route)):
                found = static_file(candidate, self.static_files)
                # Looked up in a thread: the event loop does not wait on the disk.
                if found is not None and await asyncio.to_thread(os.path.isfile, found["filename"]):
                    await self.serve_static_file(found, receive, send)
                    return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == "http":
            await self.not_found(receive, send)
        else:
            await send({"type": "websocket.close", "code": 1000, "reason": ""})

    async def serve_static_file(self, static_file: dict[str, str], receive: Receive, send: Send) -> None:
        """Answer with a static file's contents (``{'filename', 'content_type'}``, read in a
        thread); 404 if it cannot be read."""
        body = await asyncio.to_thread(_read_file, static_file["filename"])
        if body is None:
            await self.not_found(receive, send)
            return
        found = static_file
        headers = [
            (b"content-type", found["content_type"].encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def not_found(self, receive: Receive, send: Send) -> None:
        """Answer 404 Not Found."""
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"9")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": b"Not Found"})

    # -- lifespan -----------------------------------------------------------------------------------

    async def _startup(self) -> None:
        start = getattr(self.socketio_server, "_start_adapter", None)
        if start is not None:
            # As on aiohttp's on_startup: a failure is logged (by the server) and startup goes on;
            # connections are refused until a later one starts the adapter.
            await start()
        if self.on_startup is not None:
            await _call(self.on_startup)

    async def _shutdown(self) -> None:
        try:
            if self.on_shutdown is not None:
                await _call(self.on_shutdown)
        finally:
            await self.socketio_server.shutdown()

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the ASGI lifespan protocol (startup, then shutdown)."""
        other = self.other_asgi_app
        if other is not None and self.on_startup is None and self.on_shutdown is None:
            await self._woven_lifespan(other, scope, receive, send)
            return
        await self._own_lifespan(receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send, startup_received: bool = False) -> None:
        """This app's lifespan loop; ``startup_received``: the startup event was read already."""
        while True:
            event = {"type": "lifespan.startup"} if startup_received else await receive()
            startup_received = False
            if event["type"] == "lifespan.startup":
                try:
                    await self._startup()
                except Exception as exc:
                    logger.exception("ASGI startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                try:
                    await self._shutdown()
                except Exception as exc:
                    logger.exception("ASGI shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _woven_lifespan(self, other: ASGI, scope: Scope, receive: Receive, send: Send) -> None:
        """The other app's lifespan, with the server started before its startup completes and shut
        down as its shutdown begins; this app's own if the other one ends or fails before it
        answers the startup (an app without lifespan support)."""
        received: list[str] = []
        answered: list[str] = []

        async def receive_event() -> dict[str, Any]:
            event = await receive()
            received.append(event["type"])
            if event["type"] == "lifespan.shutdown":
                try:
                    await self._shutdown()
                except Exception:
                    logger.exception("the Socket.IO server's shutdown failed")
            return event

        async def send_event(message: dict[str, Any]) -> None:
            answered.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                try:
                    await self._startup()
                except Exception as exc:
                    logger.exception("ASGI startup failed")
                    message = {"type": "lifespan.startup.failed", "message": repr(exc)}
            await send(message)

        try:
            await other(scope, receive_event, send_event)
        except Exception:
            if answered:
                raise
            logger.debug("the other ASGI app has no lifespan: the Socket.IO server runs it", exc_info=True)
        if answered:
            return
        await self._own_lifespan(receive, send, startup_received="lifespan.startup" in received)


def _read_file(filename: str) -> bytes | None:
    """The file's contents, or None if it is not a readable file."""
    try:
        return Path(filename).read_bytes()
    except OSError:
        return None


def _route_path(scope: Scope) -> str:
    """The path below the mount point (Starlette's ``root_path``)."""
    path: str = scope.get("path", "/")
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def _below(path: str, prefix: str) -> bool:
    return (path if path.endswith("/") else path + "/").startswith(prefix)
