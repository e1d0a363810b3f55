"""``aiosio run`` for an ASGI application (``aiosio.ASGIApp``, FastAPI, Starlette...): served by uvicorn.

uvicorn is the ``asgi`` extra (``pip install 'aiosio[asgi]'``). The listening socket is bound here,
so ``--port 0`` announces the real port. WebSocket compression (permessage-deflate) is off, as on
aiohttp. On SIGINT/SIGTERM the Socket.IO servers found at the top level of the target's module
(and the one an ``aiosio.ASGIApp`` target serves) are shut down first (their clients get a clean
Engine.IO close while their connections are still open), then uvicorn stops (the app's lifespan
shutdown runs last).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import signal
import socket
from collections.abc import Callable, Iterable
from typing import Any

from .runner import ServeError, format_url

logger = logging.getLogger("aiosio.cli")

#: uvicorn's own default WebSocket message limit.
UVICORN_WS_MAX_SIZE = 16 * 1024 * 1024

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def is_asgi_app(obj: Any) -> bool:
    """True for an ASGI application: a callable (not a class) whose positional parameters are
    exactly three required ones, ``scope, receive, send`` (a factory with defaults is not one)."""
    if isinstance(obj, type) or not callable(obj):
        return False
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in _POSITIONAL]
    required_keywords = [
        p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    ]
    return (
        len(positional) == 3
        and all(p.default is inspect.Parameter.empty for p in positional)
        and not required_keywords
    )


def socketio_servers(app: Any, servers: Iterable[Any]) -> list[Any]:
    """The servers given, plus the one an ``aiosio.ASGIApp`` target serves (``app.socketio_server``)."""
    known = list(servers)
    inner = getattr(app, "socketio_server", None)
    if inner is not None and hasattr(inner, "shutdown") and all(inner is not s for s in known):
        known.append(inner)
    return known


async def serve_asgi(
    app: Any,
    *,
    host: str,
    port: int,
    announce: Callable[[str], None],
    servers: Iterable[Any] = (),
    shutdown_timeout: float = 10.0,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the ASGI ``app`` with uvicorn on ``host``:``port`` until SIGINT or SIGTERM."""
    try:
        import uvicorn
    except ImportError:
        raise ServeError(
            "the target is an ASGI application, which aiosio serves through uvicorn: "
            "pip install 'aiosio[asgi]' (or run it with any ASGI server)"
        ) from None
    known = socketio_servers(app, servers)
    limits = [getattr(getattr(s, "options", None), "max_http_buffer_size", 0) for s in known]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # logging is configured already (--log-level)
        log_level=log_level,
        access_log=access_log,
        lifespan="auto",
        # The Engine.IO limit (max_http_buffer_size) is enforced by aiosio, with a clean close;
        # uvicorn's own must not be lower.
        ws_max_size=max([UVICORN_WS_MAX_SIZE, *(n + 1 for n in limits)]),
        # As on aiohttp (compress=False): permessage-deflate costs memory and CPU per connection.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=max(1, math.ceil(shutdown_timeout)),
    )

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in known:
                try:
                    await server.shutdown()
                except Exception:
                    logger.exception("error while shutting down %r", server)
            await super().shutdown(sockets)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = Server(config)
    # uvicorn catches SIGINT/SIGTERM while it serves and raises them again once it has stopped,
    # with the handlers found before: ignoring them then makes a stop by signal a clean exit.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            announce(format_url(host, sock.getsockname()[1]))
        await task
        if not server.started:
            raise ServeError("the ASGI application did not start (see the log above)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def _ignore(_sig: int, _frame: Any) -> None:
    pass
