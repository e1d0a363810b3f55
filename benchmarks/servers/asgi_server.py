"""Socket.IO benchmark server on ASGI: aiosio's or python-socketio's ``ASGIApp`` under uvicorn.

The same handlers and options as ``sio_server.py`` (only ``async_mode='asgi'`` differs), served by
uvicorn on one event loop with its defaults (h11 for HTTP, wsproto for WebSocket where the
``websockets`` package is absent), access log off.
Run: ``python benchmarks/servers/asgi_server.py --impl aiosio|psio --loop asyncio|uvloop --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from typing import Any

import uvicorn
from common import LOOPS, PROFILE_ENV, profile_until_terminated
from sio_server import MODULES, SERVER_OPTIONS


def build_app(impl: str) -> Any:
    """The library's ``ASGIApp`` around a Socket.IO server with the benchmark's handlers."""
    module = importlib.import_module(MODULES[impl])
    sio = module.AsyncServer(**{**SERVER_OPTIONS, "async_mode": "asgi"})

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        """Acknowledge with the payload unchanged."""
        return data

    @sio.event
    async def bcast(sid: str, data: Any) -> None:
        """Send the payload as `msg` to every connected socket (the sender included)."""
        await sio.emit("msg", data)

    @sio.event
    async def join(sid: str, room: str) -> bool:
        """Put the socket in `room`; the ack tells the client it is in."""
        await sio.enter_room(sid, room)
        return True

    @sio.event
    async def to_room(sid: str, room: str, data: Any) -> None:
        """Send the payload as `msg` to every socket in `room`."""
        await sio.emit("msg", data, room=room)

    return module.ASGIApp(sio)


async def serve(impl: str, port: int) -> None:
    """Serve on 127.0.0.1:`port` until killed."""
    config = uvicorn.Config(
        build_app(impl),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=4096,
        ws_max_size=SERVER_OPTIONS["max_http_buffer_size"] + 1,
    )
    await uvicorn.Server(config).serve()


def main() -> None:
    """Parse arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=sorted(MODULES), required=True)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    profile_dir = os.environ.get(PROFILE_ENV)
    if profile_dir:
        profile_until_terminated(profile_dir, args.port)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serve(args.impl, args.port))
    else:
        asyncio.run(serve(args.impl, args.port))


if __name__ == "__main__":
    main()
