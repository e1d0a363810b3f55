"""The observer seam: each hook fires once, at the right moment, with the right arguments; an
observer that raises is logged once and breaks nothing; hooks nobody overrides are not dispatched.

The peer is aiosio's own client over real sockets (a server on a random port).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

import aiosio
from aiosio.server.observe import Observer, traffic

from .support import until

pytestmark = pytest.mark.timeout(30)


class Recorder(Observer):
    """Records every hook call as a tuple."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.handshakes: dict[str, dict[str, Any]] = {}

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]

    def connection_opened(self, eio_sid: str, transport: str) -> None:
        self.calls.append(("connection_opened", eio_sid, transport))

    def connection_closed(self, eio_sid: str, reason: str) -> None:
        self.calls.append(("connection_closed", eio_sid, reason))

    def transport_upgraded(self, eio_sid: str) -> None:
        self.calls.append(("transport_upgraded", eio_sid))

    def socket_connected(self, sock: Any) -> None:
        self.calls.append(
            (
                "socket_connected",
                sock.sid,
                sock.namespace,
                sock.eio_sid,
                sock.session.transport,
                sock.recovered,
            )
        )
        self.handshakes[sock.sid] = sock.handshake()

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        self.calls.append(("socket_disconnected", sid, namespace, reason))

    def room_joined(self, namespace: str, room: str, sid: str) -> None:
        self.calls.append(("room_joined", namespace, room, sid))

    def room_left(self, namespace: str, room: str, sid: str) -> None:
        self.calls.append(("room_left", namespace, room, sid))

    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None:
        self.calls.append(("event_received", sid, namespace, event, list(args)))

    def handler_finished(
        self, namespace: str, event: str, seconds: float, error: BaseException | None
    ) -> None:
        self.calls.append(("handler_finished", namespace, event, seconds, error))

    def event_emitted(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        rooms: Sequence[str] | None,
        recipients: int,
        exclude: Sequence[str],
    ) -> None:
        self.calls.append(
            (
                "event_emitted",
                namespace,
                event,
                args,
                None if rooms is None else tuple(rooms),
                recipients,
                tuple(exclude),
            )
        )

    def ack_received(self, namespace: str, seconds: float) -> None:
        self.calls.append(("ack_received", namespace, seconds))

    def slow_consumer(self, sid: str, namespace: str) -> None:
        self.calls.append(("slow_consumer", sid, namespace))


def make_server() -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        await asyncio.sleep(0.01)
        return "in"

    @sio.event
    async def shout(sid: str, room: str, text: str) -> None:
        await sio.emit("shouted", text, to=room, skip_sid=sid)

    @sio.event
    async def leave(sid: str, room: str) -> None:
        await sio.leave_room(sid, room)

    @sio.event
    def boom(sid: str) -> None:
        raise ValueError("boom")

    @sio.event
    async def ask(sid: str) -> Any:
        return await sio.call("question", "?", to=sid, timeout=5)

    return sio


@pytest.mark.allow_server_errors(r"event handler failed")
async def test_every_hook_fires_once_with_its_arguments(serve: Any) -> None:
    sio = make_server()
    rec = Recorder()
    sio.observers.add(rec)
    handle = await serve(sio)

    a = aiosio.AsyncClient()
    b = aiosio.AsyncClient()
    got: list[Any] = []
    b.on("shouted", got.append)
    a.on("question", lambda _q: "answer")
    await a.connect(handle.url, transports=["websocket"], headers={"X-Probe": "1"})
    await b.connect(handle.url, transports=["websocket"])
    sid_a, sid_b = a.get_sid(), b.get_sid()
    assert await a.call("join", "lobby") == "in"
    assert await b.call("join", "lobby") == "in"
    await a.emit("shout", ("lobby", "hi"))
    await until(lambda: got == ["hi"])
    assert await a.call("ask") == "answer"
    await a.emit("boom")
    await a.emit("leave", "lobby")
    await until(lambda: len(rec.of("handler_finished")) == 6)
    await a.disconnect()
    await b.disconnect()
    await until(lambda: len(rec.of("connection_closed")) == 2)

    opened = rec.of("connection_opened")
    assert [c[2] for c in opened] == ["websocket", "websocket"]
    connected = rec.of("socket_connected")
    assert [(c[1], c[2], c[4], c[5]) for c in connected] == [
        (sid_a, "/", "websocket", False),
        (sid_b, "/", "websocket", False),
    ]
    assert connected[0][3] == opened[0][1]  # the socket's eio sid is its connection's
    assert rec.handshakes[sid_a]["headers"]["x-probe"] == "1"  # Node's handshake shape
    assert [c[1:] for c in rec.of("room_joined")] == [("/", "lobby", sid_a), ("/", "lobby", sid_b)]
    # a left by event; b's room is left when it disconnects.
    assert [c[1:] for c in rec.of("room_left")] == [("/", "lobby", sid_a), ("/", "lobby", sid_b)]
    events = [(c[1], c[3], c[4]) for c in rec.of("event_received")]
    assert events == [
        (sid_a, "join", ["lobby"]),
        (sid_b, "join", ["lobby"]),
        (sid_a, "shout", ["lobby", "hi"]),
        (sid_a, "ask", []),
        (sid_a, "boom", []),
        (sid_a, "leave", ["lobby"]),
    ]
    finished = rec.of("handler_finished")
    assert [c[2] for c in finished] == ["join", "join", "shout", "ask", "boom", "leave"]
    assert finished[0][3] >= 0.01  # a coroutine handler is timed until it finished
    assert [type(c[4]).__name__ for c in finished] == ["NoneType"] * 4 + ["ValueError", "NoneType"]
    emitted = [c[1:] for c in rec.of("event_emitted")]
    assert emitted == [
        ("/", "shouted", ("hi",), ("lobby",), 1, (sid_a,)),  # skip_sid left a out
        ("/", "question", ("?",), (sid_a,), 1, ()),
    ]
    acks = rec.of("ack_received")
    assert len(acks) == 1 and acks[0][1] == "/" and 0 <= acks[0][2] < 5
    disconnected = rec.of("socket_disconnected")
    assert sorted(c[1:] for c in disconnected) == sorted(
        [(sid_a, "/", "client disconnect"), (sid_b, "/", "client disconnect")]
    )
    closed = rec.of("connection_closed")
    assert sorted(c[1] for c in closed) == sorted(c[1] for c in opened)
    # Order: the socket leaves before its connection is reported closed.
    names = rec.names()
    assert names.index("socket_disconnected") < names.index("connection_closed")
    assert not rec.of("slow_consumer") and not rec.of("transport_upgraded")


async def test_transport_upgrade_is_reported(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    rec = Recorder()
    sio.observers.add(rec)
    handle = await serve(sio)
    client = aiosio.AsyncClient()
    await client.connect(handle.url)  # polling first, then the upgrade
    await until(lambda: len(rec.of("transport_upgraded")) == 1)
    (opened,) = rec.of("connection_opened")
    assert opened[2] == "polling"
    assert rec.of("transport_upgraded") == [("transport_upgraded", opened[1])]
    await client.disconnect()


class Raising(Observer):
    def __init__(self) -> None:
        self.calls = 0

    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None:
        self.calls += 1
        raise RuntimeError("observer bug")


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-another"])
@pytest.mark.allow_server_errors(r"aiosio\.observe ERROR: observer .* failed in event_received")
async def test_a_raising_observer_is_logged_once_and_breaks_nothing(
    serve: Any, caplog: pytest.LogCaptureFixture, alone: bool
) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    bad = Raising()
    rec = Recorder()
    sio.observers.add(bad)
    if not alone:
        sio.observers.add(rec)  # a later observer still hears of everything
    handle = await serve(sio)
    client = aiosio.AsyncClient()
    await client.connect(handle.url, transports=["websocket"])
    with caplog.at_level(logging.ERROR, logger="aiosio.observe"):
        for i in range(3):
            assert await client.call("echo", i) == i
    await client.disconnect()
    assert bad.calls == 3
    assert len(rec.of("event_received")) == (0 if alone else 3)
    logged = [r for r in caplog.records if r.name == "aiosio.observe"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert sio.observers.errors == 3


async def test_hooks_nobody_overrides_are_not_dispatched() -> None:
    class OnlyConnections(Observer):
        def connection_opened(self, eio_sid: str, transport: str) -> None:
            pass

    sio = aiosio.AsyncServer()
    assert sio._obs is None  # no observer: the call sites see None
    obs = OnlyConnections()
    sio.observers.add(obs)
    assert sio._obs is sio.observers
    assert sio.observers.connection_opened is not None
    assert sio.observers.event_received is None and sio.observers.event_emitted is None
    assert sio.manager.adapter.observer is sio.observers  # type: ignore[attr-defined]
    sio.observers.add(obs)  # twice: once
    assert len(sio.observers) == 1
    sio.observers.remove(obs)
    assert sio._obs is None and sio.manager.adapter.observer is None  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        sio.observers.add(object())  # type: ignore[arg-type]


async def test_traffic_counts_packets_and_bytes_both_ways(serve: Any) -> None:
    sio = aiosio.AsyncServer(ping_interval=60, ping_timeout=60)  # no PING during the test

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    handle = await serve(sio)
    before = traffic(sio)
    client = aiosio.AsyncClient()
    await client.connect(handle.url, transports=["websocket"])
    (session,) = sio.eio.core.sessions.values()
    (sid,) = sio._sockets
    open_len = len(sio.eio.core.open_frame(session).payload)
    payload = "x" * 1000
    for _ in range(5):
        assert await client.call("echo", payload) == payload
    live = traffic(sio)
    await client.disconnect()
    await until(lambda: not sio.eio.core.sessions)
    after = traffic(sio)
    # In: CONNECT "40{}" (aiosio's client sends an empty auth), 5 events '42<id>["echo","x..."]'.
    # Out: OPEN, the CONNECT reply, 5 acks.
    events_in = sum(len(f'42{n}["echo","{payload}"]') for n in range(5))
    acks_out = sum(len(f'43{n}["{payload}"]') for n in range(5))
    connect_reply = len(f'40{{"sid":"{sid}"}}')
    assert live.packets_in - before.packets_in == 6
    assert live.bytes_in - before.bytes_in == len("40{}") + events_in
    assert live.packets_out - before.packets_out == 7
    assert live.bytes_out - before.bytes_out == open_len + connect_reply + acks_out
    # Closed connections keep counting in the totals (the client's DISCONNECT "41" and CLOSE "1").
    assert after.packets_in - live.packets_in == 2 and after.bytes_in - live.bytes_in == 3
    assert after.packets_out == live.packets_out and after.bytes_out == live.bytes_out
