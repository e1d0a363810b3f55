"""Assembles the demo: the page, the todo API, the Socket.IO chat/feed/prices and the client bundle."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

import aiosio

from .api import TodoApi, json_errors, prefers_json
from .bundle import add_client_routes
from .realtime import Realtime
from .store import TodoStore, default_db_path
from .ticker import PriceTicker

__all__ = ["REALTIME_KEY", "SIO_KEY", "STATIC_DIR", "STORE_KEY", "TICKER_KEY", "create_app"]

#: The page, its script and its stylesheet.
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Typed keys for what :func:`create_app` stores on the application.
SIO_KEY = web.AppKey("aiosio_demo_sio", object)
STORE_KEY = web.AppKey("aiosio_demo_store", TodoStore)
REALTIME_KEY = web.AppKey("aiosio_demo_realtime", Realtime)
TICKER_KEY = web.AppKey("aiosio_demo_ticker", PriceTicker)

# The page loads nothing but its own files: no inline script, no third-party origin. This also
# keeps any user text that slipped past escaping from running as script.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Always revalidate, so a page reloaded after an upgrade never runs a stale app.js.
    "Cache-Control": "no-cache",
}


async def _index(request: web.Request) -> web.StreamResponse:
    """``GET /``: the page, or the todo list for clients that ask for JSON (the tutorial's /)."""
    if prefers_json(request.headers.get("Accept")):
        store = request.app[STORE_KEY]
        response: web.StreamResponse = web.json_response(await asyncio.to_thread(store.list_todos))
    else:
        response = web.FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)
    response.headers["Vary"] = "Accept"
    return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")


def create_app(
    db_path: str | os.PathLike[str] | None = None,
    *,
    sio: aiosio.AsyncServer | None = None,
    socketio_path: str = "socket.io",
) -> web.Application:
    """Build the demo application.

    ``db_path`` is the SQLite file for the todos (default: :func:`~.store.default_db_path`;
    ``":memory:"`` keeps nothing). ``sio`` is the Socket.IO server to use (default: a new
    ``aiosio.AsyncServer(connection_state_recovery=True)``, which accepts same-origin pages only:
    a page whose connection drops comes back with its session and the events it missed). The
    price ticker starts with the application; when the application shuts down it stops the
    ticker, disconnects every client and shuts the server down.
    """
    store = TodoStore(default_db_path() if db_path is None else db_path)
    if sio is None:
        sio = aiosio.AsyncServer(connection_state_recovery=True)
    ticker = PriceTicker(sio)
    realtime = Realtime(sio, store, ticker)
    realtime.register()

    app = web.Application(middlewares=[json_errors])
    app[SIO_KEY] = sio
    app[STORE_KEY] = store
    app[REALTIME_KEY] = realtime
    app[TICKER_KEY] = ticker

    async def start_ticker(app: web.Application) -> None:
        ticker.start()

    async def stop_ticker(app: web.Application) -> None:
        await ticker.stop()

    app.on_startup.append(start_ticker)
    # Before the Socket.IO server's own shutdown (added by attach() below): no tick is sent
    # into connections that are closing, and the task is gone before the loop closes.
    app.on_shutdown.append(stop_ticker)

    app.router.add_get("/", _index)
    TodoApi(store, realtime.todo_changed).add_routes(app.router)
    app.router.add_static("/static/", STATIC_DIR)
    # /socket.io/socket.io.min.js never reaches the Socket.IO endpoint: aiohttp tries the most
    # specific path first. Adding it before attach() also wins any tie on the same path.
    add_client_routes(app, socketio_path)
    sio.attach(app, socketio_path=socketio_path)

    app.on_response_prepare.append(_security_headers)

    async def close_realtime(app: web.Application) -> None:
        await realtime.close()

    async def close_store(app: web.Application) -> None:
        store.close()

    app.on_shutdown.append(close_realtime)
    app.on_cleanup.append(close_store)
    return app
