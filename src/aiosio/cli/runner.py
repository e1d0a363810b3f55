"""What ``aiosio serve`` and ``aiosio run`` share: logging, the event loop, and serving an app.

:func:`serve_app` runs an aiohttp application until SIGINT or SIGTERM, then shuts it down the
aiohttp way: stop listening, run the ``on_shutdown`` handlers (where Socket.IO servers disconnect
their clients), wait up to a timeout for requests in flight, run ``on_cleanup``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = [
    "LOG_LEVELS",
    "LOOPS",
    "ServeError",
    "configure_logging",
    "format_url",
    "run_with_loop",
    "serve_app",
]

logger = logging.getLogger("aiosio.cli")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOOPS = ("auto", "asyncio", "uvloop")

T = TypeVar("T")


class ServeError(Exception):
    """A problem to report in one line and exit with status 1 (e.g. the port is taken)."""


def configure_logging(level: str) -> None:
    """Send log records of ``level`` (one of :data:`LOG_LEVELS`) and up to stderr, one line each."""
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def uvloop_available() -> bool:
    """Whether uvloop can be imported (it is an optional dependency: ``aiosio[uvloop]``)."""
    return importlib.util.find_spec("uvloop") is not None


def run_with_loop(main: Coroutine[Any, Any, T], loop: str = "auto") -> T:
    """Run ``main`` to completion on a new event loop of the requested kind.

    ``auto`` uses uvloop when it is installed and asyncio's default loop otherwise; ``uvloop``
    fails with :class:`ServeError` if uvloop is missing rather than silently running slower.
    """
    use_uvloop = loop == "uvloop" or (loop == "auto" and uvloop_available())
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            main.close()  # never awaited: close it to avoid a "never awaited" warning
            raise ServeError(
                "uvloop is not installed (pip install 'aiosio[uvloop]', or use --loop asyncio)"
            ) from None
        return uvloop.run(main)
    return asyncio.run(main)


def format_url(host: str, port: int, scheme: str = "http") -> str:
    """A URL a browser on this machine can open for a server bound to ``host``:``port``.

    Wildcard addresses are shown as the loopback address, since ``http://0.0.0.0`` does not
    work everywhere; IPv6 addresses get their brackets.
    """
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


async def serve_app(
    app: web.Application,
    *,
    host: str,
    port: int,
    announce: Callable[[str], None],
    servers: Iterable[Any] = (),
    shutdown_timeout: float = 10.0,
    access_log: bool = True,
    sock: socket.socket | None = None,
    unix_path: str | None = None,
    stop: asyncio.Event | None = None,
    started: Callable[[web.AppRunner], Awaitable[None]] | None = None,
    access_log_class: type[AbstractAccessLogger] | None = None,
    drain: Callable[[web.AppRunner, web.BaseSite], Awaitable[None]] | None = None,
    runner_class: type[web.AppRunner] = web.AppRunner,
) -> None:
    """Serve ``app`` on ``host``:``port`` until SIGINT or SIGTERM, then shut down gracefully.

    A worker of ``--workers N`` passes ``sock``, the listening socket its supervisor made (served
    instead of binding ``host``:``port``), ``unix_path``, a Unix socket to serve the app on as
    well (for the hand-off between workers), ``stop``, an event that also ends the serving, and
    ``started``, awaited with the runner once the sites listen, before ``announce``, its
    ``access_log_class``, and ``drain``, awaited with the runner and the listening site once
    ``stop`` is set, before aiohttp's shutdown (it may close its sessions first, and stop the site;
    the handlers still running then get what is left of ``shutdown_timeout``),
    and its ``runner_class`` (an :class:`aiohttp.web.AppRunner`).

    ``announce`` is called with the server's URL once it is listening (``port=0`` picks a free
    port; the URL has the real one). Each of ``servers`` (Socket.IO servers attached to the app)
    gets ``await server.shutdown()`` during the app's shutdown phase, while client connections
    are still open, so clients see a clean disconnect. Raises :class:`ServeError` if the
    address cannot be bound.
    """
    logger.debug("event loop: %s", type(asyncio.get_running_loop()).__module__)
    known = list(servers)
    if known:

        async def shutdown_servers(app: web.Application) -> None:
            for server in known:
                try:
                    await server.shutdown()
                except Exception:
                    logger.exception("error while shutting down %r", server)

        app.on_shutdown.append(shutdown_servers)

    kwargs: dict[str, Any] = {} if access_log else {"access_log": None}
    if access_log and access_log_class is not None:
        kwargs["access_log_class"] = access_log_class
    runner = runner_class(app, shutdown_timeout=shutdown_timeout, **kwargs)
    # Signal handlers go in before anything is announced: a supervisor (or a test) may send
    # SIGTERM as soon as it sees the URL.
    stop = stop or asyncio.Event()
    remove_handlers = _install_stop_handlers(stop)
    try:
        await runner.setup()
        try:
            site: web.BaseSite = (
                web.TCPSite(runner, host, port) if sock is None else web.SockSite(runner, sock)
            )
            try:
                await site.start()
                if unix_path is not None:
                    await web.UnixSite(runner, unix_path).start()
            except OSError as exc:
                raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            if started is not None:
                await started(runner)
            bound = runner.addresses[0]
            announce(format_url(host if host in ("0.0.0.0", "::", "") else bound[0], bound[1]))
            await stop.wait()
            logger.info("shutting down")
            if drain is not None:
                stopped = time.monotonic()
                await drain(runner, site)
                # The drain and aiohttp's shutdown share ``shutdown_timeout`` (a supervisor kills
                # a worker that overstays it): the handlers still running get what is left.
                left = max(0.0, shutdown_timeout - (time.monotonic() - stopped))
                runner._shutdown_timeout = left
        finally:
            await runner.cleanup()
    finally:
        remove_handlers()


def _install_stop_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; return a function undoing that."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows, or not in the main thread: Ctrl+C then arrives as KeyboardInterrupt,
            # which cancels the serving coroutine and still runs its cleanup.
            pass

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
