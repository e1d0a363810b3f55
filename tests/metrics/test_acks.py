"""Ack bookkeeping of the observer seam: a ``call()`` that times out through an overridden manager
``emit`` leaves nothing behind on the socket; acks are timed only for an observer that listens to
``ack_received``. Peer: aiosio's client over a real WebSocket, answering late (or not at all)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import aiosio
import aiosio.metrics
from aiosio.server.observe import Observer

from .support import parse, until, value

pytestmark = pytest.mark.timeout(30)


class PassThrough(aiosio.AsyncManager):
    """A manager that overrides ``emit`` (the server then goes through it, python-socketio's way)."""

    async def emit(self, *args: Any, **kwargs: Any) -> Any:
        return await super().emit(*args, **kwargs)


async def slow_client(url: str) -> aiosio.AsyncClient:
    client = aiosio.AsyncClient()

    @client.event
    async def question(data: Any) -> Any:
        await asyncio.sleep(1.0)  # answers after the server stopped waiting
        return data

    await client.connect(url, transports=["websocket"])
    return client


async def test_a_timed_out_call_through_an_overridden_manager_leaves_no_ack(serve: Any) -> None:
    sio = aiosio.AsyncServer(client_manager=PassThrough())
    metrics = aiosio.metrics.instrument(sio, CollectorRegistry())
    handle = await serve(sio)
    client = await slow_client(handle.url)
    (sock,) = sio._sockets.values()
    for n in range(5):
        with pytest.raises(aiosio.exceptions.TimeoutError):
            await sio.call("question", n, to=sock.sid, timeout=0.05)
    assert not sock.acks and not sock.ack_sent
    # The late answers are not timed (nobody waits for them any more).
    await asyncio.sleep(1.2)
    samples = parse(metrics.render().decode())
    assert ("aiosio_ack_round_trip_seconds_count", frozenset({("namespace", "/")})) not in samples
    await client.disconnect()


class Connections(Observer):
    def __init__(self) -> None:
        self.opened = 0

    def connection_opened(self, eio_sid: str, transport: str) -> None:
        self.opened += 1


async def test_acks_are_timed_only_for_an_ack_received_observer(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    connections = Connections()
    sio.observers.add(connections)
    handle = await serve(sio)
    client = aiosio.AsyncClient()

    @client.event
    async def question(data: Any) -> Any:
        return data

    await client.connect(handle.url, transports=["websocket"])
    (sock,) = sio._sockets.values()
    assert connections.opened == 1
    answers: list[Any] = []
    await sio.emit("question", 1, to=sock.sid, callback=lambda *a: answers.append(a))
    assert sock.ack_sent is None  # an observer is there, but none times acks
    await until(lambda: answers == [(1,)])
    # With an observer of ack_received (the metrics) the round trip is timed and reported.
    metrics = aiosio.metrics.instrument(sio, CollectorRegistry())
    assert await sio.call("question", 2, to=sock.sid) == 2
    samples = parse(metrics.render().decode())
    assert value(samples, "aiosio_ack_round_trip_seconds_count", namespace="/") == 1
    assert not sock.ack_sent
    await client.disconnect()
