"""The simple-client greeter (the shape of python-socketio's async simple-client ``fiddle_client.py``).

``async with AsyncSimpleClient()``: connect with an auth token and return the first event received.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiosio as socketio

from .pages import server_url


async def first_event(
    url: str, lib: ModuleType = socketio, token: str | None = "open-sesame", **connect_kwargs: Any
) -> list[Any]:
    """Connect (no auth if *token* is None), receive one event, disconnect (leaving the ``async with``)."""
    async with lib.AsyncSimpleClient() as sio:
        await sio.connect(url, auth=None if token is None else {"token": token}, **connect_kwargs)
        event: list[Any] = await sio.receive()
        print(event)
        return event


if __name__ == "__main__":
    asyncio.run(first_event(server_url()))
