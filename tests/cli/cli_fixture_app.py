"""A Socket.IO server for the CLI tests, served with ``aiosio run cli_fixture_app:<target>``.

Not a test module: pytest does not collect it; the tests start it in a subprocess.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

import aiosio

sio = aiosio.AsyncServer()
_seen: dict[str, dict[str, Any]] = {}


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    """Refuse ``{"token": "bad"}``; remember the auth and the X-Trace header for ``whoami``."""
    if isinstance(auth, dict) and auth.get("token") == "bad":
        raise aiosio.exceptions.ConnectionRefusedError("bad token")
    _seen[sid] = {"auth": auth, "trace": environ.get("HTTP_X_TRACE")}


@sio.event
async def whoami(sid: str) -> Any:
    return _seen.get(sid)


@sio.event
async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
    """Acknowledge with the event's own arguments, however many."""
    return args


@sio.event
async def silent(sid: str, *args: Any) -> None:
    """Never acknowledge in time."""
    await asyncio.sleep(60)


@sio.event
async def burst(sid: str, count: int) -> str:
    """Send ``count`` ``tick`` events to the caller, then acknowledge."""
    for i in range(count):
        await sio.emit("tick", {"i": i, "bin": b"\x00\x01"} if i == 0 else {"i": i}, to=sid)
    return "done"


@sio.event
async def broadcast(sid: str, data: Any) -> str:
    """Send ``news`` to everyone."""
    await sio.emit("news", data)
    return "sent"


@sio.event
async def bye(sid: str) -> None:
    """Disconnect the caller from the server side."""
    await sio.disconnect(sid)


@sio.on("echo", namespace="/chat")
async def chat_echo(sid: str, *args: Any) -> tuple[Any, ...]:
    return ("chat", *args)


@sio.on("connect", namespace="/chat")
async def chat_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    pass


def make_app() -> web.Application:
    """A factory: ``aiosio run cli_fixture_app:make_app``."""
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello from a factory")

    app.router.add_get("/hello", hello)
    sio.attach(app)
    return app


async def make_server() -> aiosio.AsyncServer:
    """An async factory returning the server itself."""
    await asyncio.sleep(0)
    return sio


not_servable = 42
