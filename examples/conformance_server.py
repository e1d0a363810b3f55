"""Reference server for the official Engine.IO / Socket.IO protocol conformance suites.

The ``test-suite/`` directories of the engine.io-protocol and socket.io-protocol repositories
(mocha tests, see ``docs/conformance.md``) expect a server on ``http://localhost:3000`` configured
like the JavaScript reference servers quoted in those repositories' READMEs:

* ``pingInterval`` 300 ms, ``pingTimeout`` 200 ms, ``maxPayload`` 1 000 000 bytes, CORS ``*``;
* ``--suite engineio``: an Engine.IO server on ``/engine.io/`` that echoes every message
  (text or binary) back to its sender;
* ``--suite socketio``: a Socket.IO server on ``/socket.io/`` with namespaces ``/`` and
  ``/custom``; on connect both emit ``auth`` with the handshake's auth payload (``{}`` when
  none); on ``/`` the ``message`` event is echoed back as ``message-back`` with the same
  arguments and ``message-with-ack`` is acknowledged with the same arguments.

Usage::

    python examples/conformance_server.py --suite engineio      # then: npx mocha (engine.io)
    python examples/conformance_server.py --suite socketio      # then: npx mocha (socket.io)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from aiohttp import web

import aiosio
import aiosio.engineio

#: Heartbeat and size limits the suites assert in the handshake (seconds / bytes).
PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000


def build_engineio_app() -> web.Application:
    """Return an aiohttp app serving the Engine.IO echo server on ``/engine.io/``."""
    eio = aiosio.engineio.AsyncServer(
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_PAYLOAD,
        cors_allowed_origins="*",
        cors_credentials=False,  # like the reference servers' `cors: {origin: "*"}`
    )

    @eio.on("message")
    async def message(sid: str, data: str | bytes) -> None:
        await eio.send(sid, data)

    app = web.Application()
    eio.attach(app, engineio_path="engine.io")
    return app


def build_socketio_app() -> web.Application:
    """Return an aiohttp app serving the Socket.IO server (``/`` and ``/custom``)."""
    sio = aiosio.AsyncServer(
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_PAYLOAD,
        cors_allowed_origins="*",
        cors_credentials=False,  # like the reference servers' `cors: {origin: "*"}`
    )

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.emit("auth", auth if auth is not None else {}, to=sid)

    @sio.on("message")
    async def message(sid: str, *args: Any) -> None:
        await sio.emit("message-back", args, to=sid)

    @sio.on("message-with-ack")
    async def message_with_ack(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("connect", namespace="/custom")
    async def connect_custom(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.emit("auth", auth if auth is not None else {}, to=sid, namespace="/custom")

    app = web.Application()
    sio.attach(app, socketio_path="socket.io")
    return app


async def serve(suite: str, host: str, port: int) -> None:
    """Serve the selected suite's server until SIGINT/SIGTERM."""
    app = build_engineio_app() if suite == "engineio" else build_socketio_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    path = "engine.io" if suite == "engineio" else "socket.io"
    print(f"conformance server ({suite}) listening on http://{host}:{port}/{path}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("engineio", "socketio"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--debug", action="store_true", help="enable debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    asyncio.run(serve(args.suite, args.host, args.port))


if __name__ == "__main__":
    main()
