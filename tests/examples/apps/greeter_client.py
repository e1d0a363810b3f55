"""An event-driven client for the greeter server (the shape of python-socketio's async ``fiddle_client.py``).

It connects with an auth token, logs ``connect`` (async handler), ``disconnect(reason)`` (async
handler) and the three-argument ``greet`` event (plain ``def`` handler), then ``wait()``s until the
connection ends. ``run`` returns the client's log.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiosio as socketio

from .pages import server_url


def make(lib: ModuleType = socketio) -> tuple[Any, list[tuple[Any, ...]]]:
    """A client with the handlers installed, and the list they log to."""
    sio = lib.AsyncClient()
    log: list[tuple[Any, ...]] = []

    @sio.event
    async def connect() -> None:
        log.append(("connect", sio.get_sid()))
        print("connected", sio.sid)

    @sio.event
    async def disconnect(reason: str) -> None:
        log.append(("disconnect", reason))
        print("disconnected, reason:", reason)

    @sio.event
    def greet(a: Any, b: Any, c: Any) -> None:
        log.append(("greet", a, b, c))
        print(a, b, c)

    return sio, log


async def run(sio: Any, url: str, token: str = "open-sesame", **connect_kwargs: Any) -> None:
    """Connect with the token and wait until disconnected."""
    await sio.connect(url, auth={"token": token}, **connect_kwargs)
    await sio.wait()


if __name__ == "__main__":
    asyncio.run(run(make()[0], server_url()))
