"""What every example app shares: its page routes, and where it listens or connects when run by hand."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiohttp import web

import aiosio

HERE = Path(__file__).parent
#: The socket.io-client browser bundle aiosio's demo ships (the examples load theirs from a CDN).
BUNDLE = Path(aiosio.__file__).parent / "demo" / "static" / "vendor" / "socket.io.min.js"


def add_page(app: web.Application, html: str) -> None:
    """Serve ``apps/<html>`` at ``/``, ``apps/static`` at ``/static`` and the bundle at ``/vendor``."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=(HERE / html).read_text(), content_type="text/html")

    async def bundle(request: web.Request) -> web.StreamResponse:
        if not BUNDLE.is_file():
            raise web.HTTPNotFound(text="socket.io client bundle not built (see README)")
        return web.FileResponse(BUNDLE)

    app.router.add_get("/", page)
    app.router.add_static("/static", HERE / "static")
    app.router.add_get("/vendor/socket.io.min.js", bundle)


def serve_options() -> dict[str, Any]:
    """``web.run_app`` options for running an app by hand: ``$HOST`` (127.0.0.1), ``$PORT`` (5000)."""
    return {"host": os.environ.get("HOST", "127.0.0.1"), "port": int(os.environ.get("PORT", "5000"))}


def server_url() -> str:
    """The server a client app talks to when run by hand: ``$URL`` (http://localhost:5000)."""
    return os.environ.get("URL", "http://localhost:5000")
