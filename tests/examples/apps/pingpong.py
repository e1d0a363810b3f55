"""A round-trip timer server (the shape of python-socketio's ``latency.py``).

Every argument-less ``ping_from_client`` is answered with an argument-less ``pong_from_server``
sent to the asking client's own room.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aiohttp import web

import aiosio as socketio

from .pages import add_page, serve_options


def build(lib: ModuleType = socketio) -> tuple[Any, web.Application]:
    """The server and its aiohttp app (``pingpong.html`` at ``/``)."""
    sio = lib.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.event
    async def ping_from_client(sid: str) -> None:
        await sio.emit("pong_from_server", room=sid)

    add_page(app, "pingpong.html")
    return sio, app


if __name__ == "__main__":
    web.run_app(build()[1], **serve_options())
