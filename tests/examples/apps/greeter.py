"""A server that greets each client with three arguments (the shape of python-socketio's ``fiddle.py``).

The connect handler takes ``auth`` (``None`` when the client sent none, as python-socketio passes it)
and greets the new client alone with ``emit(..., to=sid)``; both handlers log a line.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aiohttp import web

import aiosio as socketio

from .pages import add_page, serve_options

#: ``("connect", sid, auth)`` / ``("disconnect", sid, reason)`` per handler call, in order.
SEEN = web.AppKey("seen", list[tuple[str, str, Any]])


def build(lib: ModuleType = socketio) -> tuple[Any, web.Application]:
    """The server and its aiohttp app (``greeter.html`` at ``/``)."""
    sio = lib.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    seen: list[tuple[str, str, Any]] = []
    app[SEEN] = seen

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.append(("connect", sid, auth))
        print(f"hi sid={sid} auth={auth}")
        await sio.emit("greet", (7, 8, {"greet": "you"}), to=sid)

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        seen.append(("disconnect", sid, reason))
        print("bye", sid, reason)

    add_page(app, "greeter.html")
    return sio, app


if __name__ == "__main__":
    web.run_app(build()[1], **serve_options())
