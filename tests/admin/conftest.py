"""Fixtures for the Admin UI tests: the npm socket.io-client driver (admins and plain clients) and
an instrumented aiosio server on a random port."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "interop"))

from admin_support import CREDENTIALS, Instrumented
from node_driver import NodeDriver

import aiosio
from peers import require_node


@pytest.fixture
async def node() -> AsyncIterator[NodeDriver]:
    """A running Node driver holding npm socket.io-client sockets (admins and plain clients)."""
    require_node()
    driver = await NodeDriver.start(watchdog=60)
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture
async def instrumented(serve: Any) -> AsyncIterator[Instrumented]:
    """``sio, admin, url = await instrumented(**instrument_kwargs)``: a served AsyncServer with
    ``instrument()`` applied (credentials :data:`CREDENTIALS` unless ``auth=`` is given, stats every
    0.2 s unless ``server_stats_interval=`` is); its ``join`` event puts the sender in a room and
    its ``shout`` event emits to one. The reports are stopped at teardown."""
    admins: list[Any] = []

    async def make(
        sio: aiosio.AsyncServer | None = None, **kwargs: Any
    ) -> tuple[aiosio.AsyncServer, Any, str]:
        sio = sio or aiosio.AsyncServer()
        kwargs.setdefault("auth", CREDENTIALS)
        kwargs.setdefault("server_stats_interval", 0.2)
        admin = sio.instrument(**kwargs)
        admins.append(admin)

        @sio.on("join")
        async def join(sid: str, room: str) -> str:
            await sio.enter_room(sid, room)
            return "joined"

        @sio.on("shout")
        async def shout(sid: str, room: str, text: str) -> None:
            await sio.emit("shouted", text, to=room)

        handle = await serve(sio)
        return sio, admin, handle.url

    yield make
    for admin in admins:
        await admin.shutdown()
