"""Connection-state recovery between an aiosio server and aiosio's client, through a TCP relay
the tests cut (a reset, not a clean disconnect)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import aiosio

from .cutter import Cutter
from .support import counting_client, fast_client, until

pytestmark = pytest.mark.timeout(30)

CutterFactory = Callable[[int], Awaitable[Cutter]]


def recovering_server(**recovery: Any) -> tuple[aiosio.AsyncServer, list[tuple[str, bool]]]:
    """A server with recovery on whose connect handler puts new sockets in room r1 and records
    ``(sid, recovered)`` for every connect."""
    sio = aiosio.AsyncServer(connection_state_recovery=recovery, ping_interval=1, ping_timeout=1)
    connects: list[tuple[str, bool]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        recovered = sio.recovered(sid)
        connects.append((sid, recovered))
        if not recovered:
            await sio.enter_room(sid, "r1")
            async with sio.session(sid) as session:
                session["user"] = "ann"

    return sio, connects


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_cut_during_1000_broadcasts_loses_nothing(
    serve: Any, cutter: CutterFactory, transport: str
) -> None:
    sio, connects = recovering_server()
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client, got, sid = await counting_client(relay.url, transport)

    async def broadcast() -> None:
        for i in range(1000):
            await sio.emit("n", i, to="r1")
            if i % 20 == 0:
                await asyncio.sleep(0.002)

    task = asyncio.ensure_future(broadcast())
    await until(lambda: len(got) >= 100)
    relay.cut()
    await task
    await until(lambda: len(got) >= 1000 and client.connected and len(connects) == 2)
    await asyncio.sleep(0.1)  # nothing more may come
    assert got == list(range(1000))
    assert connects == [(sid, False), (sid, True)]
    assert client.get_sid() == sid and client.recovered
    assert sio.rooms(sid) == [sid, "r1"]
    assert (await sio.get_session(sid)) == {"user": "ann"}
    stats = sio.recovery_stats()
    assert stats is not None and stats.recovered == 1 and stats.refused == 0
    await client.disconnect()


async def test_recovers_when_no_event_was_sent_before_the_cut(serve: Any, cutter: CutterFactory) -> None:
    sio, connects = recovering_server()
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client, got, sid = await counting_client(relay.url)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await sio.emit("n", 1, to="r1")  # missed: the client never had an offset
    await until(lambda: got == [1] and client.connected)
    assert connects == [(sid, False), (sid, True)] and client.recovered
    await client.disconnect()


async def test_acked_and_volatile_packets_are_not_replayed(serve: Any, cutter: CutterFactory) -> None:
    sio, connects = recovering_server()
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client = fast_client()
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    client.on("acked", lambda *args: got.append(("acked", *args)) or "ok")
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    assert await sio.call("acked", "x", to=sid, timeout=5) == "ok"
    await sio.emit("n", "first", to="r1")
    await until(lambda: len(got) == 2)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await sio.emit("n", "vol", to="r1", volatile=True)  # dropped: never kept
    await sio.emit("acked", "y", to="r1", callback=lambda *a: None)  # asks for an ack: never kept
    await sio.emit("n", "kept", to="r1")
    await until(lambda: client.connected and len(connects) == 2)
    await until(lambda: len(got) >= 3)
    await asyncio.sleep(0.1)
    assert got == [("acked", "x"), ("first",), ("kept",)]
    await client.disconnect()


async def test_a_trailing_string_without_an_offset_is_left_alone(serve: Any, cutter: CutterFactory) -> None:
    """A volatile event (no offset) whose last argument is a string: the client neither strips it
    nor takes it for its offset, so the next recovery still works (Node's client fails it)."""
    sio, connects = recovering_server()
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client = fast_client()
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    await sio.emit("n", 1, to="r1")
    await sio.emit("n", "plainstring", to="r1", volatile=True)
    await sio.emit("n", "1600000000000-0", to=sid, volatile=True)  # offset-shaped, but too old
    await until(lambda: len(got) == 3)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await sio.emit("n", 2, to="r1")
    await until(lambda: client.connected and len(got) == 4)
    assert got == [(1,), ("plainstring",), ("1600000000000-0",), (2,)]
    assert connects[-1] == (sid, True)
    await client.disconnect()


async def test_too_long_away_gives_a_fresh_session(serve: Any, cutter: CutterFactory) -> None:
    sio, connects = recovering_server(max_disconnection_duration=0.3)
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client, got, sid = await counting_client(relay.url, reconnection_delay=0.8, reconnection_delay_max=0.8)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await sio.emit("n", 1, to="r1")
    await until(lambda: client.connected and len(connects) == 2)
    assert client.get_sid() != sid and not client.recovered
    assert connects[1][1] is False and got == []
    stats = sio.recovery_stats()
    assert stats is not None and stats.refused == 1 and stats.sessions == 0
    await client.disconnect()


async def test_too_many_packets_gives_a_fresh_session_and_memory_stays_bounded(
    serve: Any, cutter: CutterFactory
) -> None:
    sio, connects = recovering_server(max_packets=50)
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client, got, sid = await counting_client(relay.url, reconnection_delay=0.5, reconnection_delay_max=0.5)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    for i in range(200):
        await sio.emit("n", i, to="r1")
    stats = sio.recovery_stats()
    assert stats is not None and stats.packets == 50 and stats.evicted_packets == 150
    await until(lambda: client.connected and len(connects) == 2)
    assert client.get_sid() != sid and not client.recovered and got == []
    await client.disconnect()


async def test_recovery_off_leaves_the_wire_alone(serve: Any) -> None:
    """No pid in the CONNECT reply, no offset after the arguments, and a client that sends none."""
    sio = aiosio.AsyncServer()
    seen: list[Any] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.append(auth)

    handle = await serve(sio)
    client = aiosio.AsyncClient(strip_offsets=False)
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args))
    replies: list[Any] = []
    original = client._on_connect

    def on_connect(ns: str, data: Any) -> None:
        replies.append(data)
        original(ns, data)

    client._on_connect = on_connect  # type: ignore[method-assign]
    await client.connect(handle.url, transports=["websocket"], auth={"token": 1})
    sid = client.get_sid()
    await sio.emit("n", 1)
    await sio.emit("n", "a", to=sid)
    await until(lambda: len(got) == 2)
    assert got == [(1,), ("a",)]
    assert replies == [{"sid": sid}] and seen == [{"token": 1}]
    assert sio.recovery_stats() is None and not sio.recovered(sid) and not client.recovered
    await client.disconnect()
