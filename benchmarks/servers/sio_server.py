"""Socket.IO benchmark server for aiosio and python-socketio on aiohttp.

Both libraries share one API, so the same handlers serve both; only the import differs.
Run: ``python benchmarks/servers/sio_server.py --impl aiosio|psio --loop asyncio|uvloop --port N``.

``--redis URL`` (the cluster scenarios) makes the server a node of a Redis cluster through each
library's own ``AsyncRedisManager(url)``, with its defaults: aiosio speaks Node's redis-adapter wire
(``--redis-mode sharded`` for its sharded adapter, when aiosio has one), python-socketio its own.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from aiohttp import web
from common import LOOPS, run

# Settings that would otherwise differ between targets or add work unrelated to Socket.IO itself:
# pings far apart (5 min) so they never fire inside a scenario, a 100 MB payload limit, no HTTP
# compression of polling bodies, open CORS without credentials. permessage-deflate is never
# negotiated because the load generator does not offer it.
SERVER_OPTIONS: dict[str, Any] = {
    "async_mode": "aiohttp",
    "cors_allowed_origins": "*",
    "cors_credentials": False,  # as Node's `cors: {origin: "*"}`
    "ping_interval": 300,
    "ping_timeout": 300,
    "max_http_buffer_size": 100_000_000,
    "http_compression": False,
    "logger": False,
    "engineio_logger": False,
}

MODULES = {"aiosio": "aiosio", "psio": "socketio"}


def redis_manager(module: Any, impl: str, url: str, mode: str) -> Any:
    """The library's Redis client manager on `url`, as an application would configure it."""
    if mode == "classic":
        return module.AsyncRedisManager(url)
    if impl != "aiosio":
        raise SystemExit(f"--redis-mode {mode} is aiosio's only")
    return module.AsyncRedisManager(url, mode=mode)


def build_app(
    impl: str, redis: str | None = None, mode: str = "classic", metrics: bool = False
) -> web.Application:
    """Create the aiohttp app with a Socket.IO server of the chosen implementation attached.

    With `redis` (a URL) the server joins the Redis cluster there (see the module docstring);
    with `metrics` (aiosio only) its Prometheus metrics are on and served at /metrics.
    """
    module = importlib.import_module(MODULES[impl])
    options = dict(SERVER_OPTIONS)
    if redis is not None:
        options["client_manager"] = redis_manager(module, impl, redis, mode)
    sio = module.AsyncServer(**options)

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

    app = web.Application()
    sio.attach(app)
    if metrics:
        if impl != "aiosio":
            raise SystemExit("--metrics is aiosio's only")
        importlib.import_module("aiosio.metrics").setup(app, sio)
    return app


def main() -> None:
    """Parse arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=sorted(MODULES), required=True)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", help="Redis URL: be a node of the cluster on that Redis")
    parser.add_argument("--redis-mode", choices=("classic", "sharded"), default="classic")
    parser.add_argument("--metrics", action="store_true", help="aiosio.metrics on, at /metrics")
    args = parser.parse_args()
    run(lambda: build_app(args.impl, args.redis, args.redis_mode, args.metrics), args.port, args.loop)


if __name__ == "__main__":
    main()
