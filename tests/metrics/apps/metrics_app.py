"""Apps for ``aiosio run --metrics`` tests: an aiohttp app with a server attached (not at module
level under its own name: found through the app), and an ASGI app (``aiosio.ASGIApp``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

import aiosio


def _server() -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer()

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    return sio


app = web.Application()
_server().attach(app)

asgi_sio = _server()
asgi = aiosio.ASGIApp(asgi_sio)
