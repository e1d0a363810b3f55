"""A hook raising CancelledError (a BaseException) is caught like any error: the socket's
disconnect handler still runs and the connection still closes. Peer: aiosio's client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio.server.observe import Observer

from .support import until

pytestmark = pytest.mark.timeout(30)


class Cancelling(Observer):
    """Raises CancelledError from the hooks run inside session.close / the disconnect path."""

    def __init__(self) -> None:
        self.calls = 0

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        self.calls += 1
        raise asyncio.CancelledError

    def connection_closed(self, eio_sid: str, reason: str) -> None:
        self.calls += 1
        raise asyncio.CancelledError


@pytest.mark.allow_server_errors(r"aiosio\.observe ERROR: observer .* failed in")
@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-another"])
async def test_a_cancelled_error_from_a_hook_does_not_end_the_server_path(serve: Any, alone: bool) -> None:
    sio = aiosio.AsyncServer()
    disconnected: list[str] = []

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        disconnected.append(reason)

    bad = Cancelling()
    sio.observers.add(bad)
    if not alone:
        sio.observers.add(Cancelling())
    handle = await serve(sio)
    client = aiosio.AsyncClient()
    await client.connect(handle.url, transports=["websocket"])
    await client.disconnect()
    await until(lambda: disconnected and not sio.eio.core.sessions)
    assert disconnected == ["client disconnect"]
    assert bad.calls == 2
    assert sio.observers.errors == (2 if alone else 4)
