"""A "try every feature" server with a form page (the shape of python-socketio's aiohttp ``app.py``).

Page actions (``static/kitchen.js``) map one-to-one to the events below: echo to self, broadcast,
join / leave / close a room, send to a room, ask to be disconnected. A background task started
with ``start_background_task`` broadcasts a tick every ``tick`` seconds, paced with ``sio.sleep``.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from aiohttp import web

import aiosio as socketio

from .pages import add_page, serve_options

#: ``(sid, reason)`` per call of the disconnect handler, in order (for the tests).
FAREWELLS = web.AppKey("farewells", list[tuple[str, str]])


def build(lib: ModuleType = socketio, tick: float = 10.0) -> tuple[Any, web.Application]:
    """The server and its aiohttp app (the page at ``/``, its script under ``/static``)."""
    sio = lib.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    farewells: list[tuple[str, str]] = []
    app[FAREWELLS] = farewells

    async def ticker() -> None:
        """Server-initiated broadcast, forever (stopped with the loop)."""
        beats = 0
        while True:
            await sio.sleep(tick)
            beats += 1
            await sio.emit("feed", {"text": "tick", "beats": beats})

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.emit("feed", {"text": "welcome", "beats": 0}, room=sid)

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        farewells.append((sid, reason))
        print("gone", sid, reason)

    @sio.event
    async def shout_back(sid: str, message: dict[str, Any]) -> None:
        await sio.emit("feed", {"text": message["text"]}, room=sid)

    @sio.event
    async def shout_all(sid: str, message: dict[str, Any]) -> None:
        await sio.emit("feed", {"text": message["text"]})

    @sio.event
    async def enter(sid: str, message: dict[str, Any]) -> None:
        await sio.enter_room(sid, message["room"])
        await sio.emit("feed", {"text": f"in {message['room']}"}, room=sid)

    @sio.event
    async def depart(sid: str, message: dict[str, Any]) -> None:
        await sio.leave_room(sid, message["room"])
        await sio.emit("feed", {"text": f"out of {message['room']}"}, room=sid)

    @sio.event
    async def shout_room(sid: str, message: dict[str, Any]) -> None:
        await sio.emit("feed", {"text": message["text"]}, room=message["room"])

    @sio.event
    async def dissolve(sid: str, message: dict[str, Any]) -> None:
        await sio.emit("feed", {"text": f"{message['room']} closes"}, room=message["room"])
        await sio.close_room(message["room"])

    @sio.event
    async def hang_up(sid: str) -> None:
        await sio.disconnect(sid)

    add_page(app, "kitchen.html")

    tasks: list[Any] = []

    async def start_ticker(app: web.Application) -> None:
        tasks.append(sio.start_background_task(ticker))

    async def stop_ticker(app: web.Application) -> None:
        for task in tasks:
            task.cancel()

    app.on_startup.append(start_ticker)
    app.on_cleanup.append(stop_ticker)
    return sio, app


async def init_app() -> web.Application:
    """The app, for ``web.run_app`` (its background task starts with it; ``$TICK`` seconds apart)."""
    return build(tick=float(os.environ.get("TICK", "10")))[1]


if __name__ == "__main__":
    web.run_app(init_app(), **serve_options())
