"""aiosio.testing: rooms and broadcasts over several test clients, and disconnects from either side."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio import exceptions
from aiosio.testing import TestServer

pytestmark = pytest.mark.parametrize("transport", ["websocket", "polling"])


def chat_server(log: list[tuple[str, str]] | None = None) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> list[str]:
        await sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.event
    async def leave(sid: str, room: str) -> None:
        await sio.leave_room(sid, room)

    @sio.event
    async def say(sid: str, room: str, text: str) -> None:
        await sio.emit("said", {"room": room, "text": text}, room=room, skip_sid=sid)

    @sio.event
    async def shout(sid: str, text: str) -> None:
        await sio.emit("shouted", text)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        await asyncio.sleep(0.05)  # a handler that takes a moment: disconnect() waits for it
        if log is not None:
            log.append((sid, reason))

    return sio


async def test_rooms_and_broadcasts_reach_exactly_their_members(transport: str) -> None:
    sio = chat_server()
    async with TestServer(sio) as server:
        alice, bob, carol = [await server.connect(transport=transport) for _ in range(3)]
        assert sorted(await alice.call("join", "red")) == sorted([alice.sid, "red"])
        await bob.call("join", "red")
        await carol.call("join", "blue")

        await alice.emit("say", ("red", "hi reds"))
        assert (await bob.receive("said")).data == {"room": "red", "text": "hi reds"}
        await alice.wait_idle()
        with pytest.raises(exceptions.TimeoutError):
            await alice.receive("said", timeout=0.05)  # skip_sid: not to the sender
        with pytest.raises(exceptions.TimeoutError):
            await carol.receive("said", timeout=0.05)  # not a member

        await carol.emit("shout", "everyone")
        for client in (alice, bob, carol):
            assert (await client.receive("shouted")).data == "everyone"

        # Server-side room operations and leaving.
        await bob.call("leave", "red")
        await sio.emit("news", "for reds", room="red")
        assert (await alice.receive("news")).data == "for reds"
        await sio.close_room("red")
        await sio.emit("news", "nobody", room="red")
        await sio.emit("news", "to blue", room="blue")
        assert (await carol.receive("news")).data == "to blue"
        await asyncio.sleep(0.02)
        assert [r.data for r in alice.received if r.event == "news"] == ["for reds"]
        assert not [r for r in bob.received if r.event == "news"]


async def test_broadcast_with_acks_from_several_clients(transport: str) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        clients = [await server.connect(transport=transport) for _ in range(3)]
        for i, client in enumerate(clients):
            client.on("count", lambda i=i: i)
        answers = await sio.emit_with_ack("count", timeout=2)
        assert sorted(answers) == [0, 1, 2]


async def test_client_disconnect_runs_the_handler_with_client_disconnect(transport: str) -> None:
    log: list[tuple[str, str]] = []
    sio = chat_server(log)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        sid = client.sid
        await client.disconnect()
        # disconnect() returns once the server ran the handler.
        assert log == [(sid, "client disconnect")]
        assert not client.connected
        assert client.disconnect_reason == "client disconnect"
        assert sio.eio.sockets == {}
        with pytest.raises(exceptions.BadNamespaceError):
            await client.emit("say", ("red", "x"))
        with pytest.raises(exceptions.DisconnectedError):
            await client.receive(timeout=1)
        await client.disconnect()  # a second time: nothing happens
        # The same client connects again, with a new sid.
        await client.connect()
        assert client.connected and client.sid != sid


async def test_server_disconnect_shows_on_the_client(transport: str) -> None:
    log: list[tuple[str, str]] = []
    sio = chat_server(log)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        other = await server.connect(transport=transport)
        sid = client.sid
        await sio.disconnect(sid)
        await client.wait_idle()
        for _ in range(100):
            if not client.connected:
                break
            await asyncio.sleep(0.005)
        assert not client.connected
        assert client.disconnect_reason == "server disconnect"
        assert log == [(sid, "server disconnect")]
        # The connection is closed too (as AsyncClient does with no namespace left).
        await asyncio.sleep(0.01)
        assert client.eio_sid not in sio.eio.sockets
        assert other.connected and other.eio_sid in sio.eio.sockets


async def test_a_pending_call_fails_when_the_server_disconnects(transport: str) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def kick_me(sid: str) -> str:
        await sio.disconnect(sid)
        await asyncio.sleep(0.2)
        return "never"

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        with pytest.raises(exceptions.DisconnectedError):
            await client.call("kick_me", timeout=2)


async def test_lost_connection_is_what_production_reports_to_the_server(transport: str) -> None:
    log: list[tuple[str, str]] = []
    sio = chat_server(log)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        sid = client.sid
        await client.lose_connection()
        await client.wait_idle()
        # A WebSocket that is gone ends its read loop; a poller that vanishes misses its PONG.
        assert log == [(sid, "transport close" if transport == "websocket" else "ping timeout")]
        assert not client.connected and client.disconnect_reason == "transport close"


async def test_engine_close_and_shutdown_end_the_client(transport: str) -> None:
    log: list[tuple[str, str]] = []
    sio = chat_server(log)
    server = TestServer(sio)
    await server.start()
    closed = await server.connect(transport=transport)
    await sio.eio.disconnect(closed.eio_sid)
    await closed.wait_idle()
    await asyncio.sleep(0.01)
    assert not closed.connected and closed.disconnect_reason == "transport close"
    assert log[-1][1] == "server disconnect"

    stays = await server.connect(transport=transport)
    sid = stays.sid
    await server.stop()  # sio.shutdown(): every connection is closed by the server
    assert not stays.connected
    assert stays.disconnect_reason == "transport close"
    assert log[-1] == (sid, "server shutting down")


async def test_shutdown_without_clients_closing_first(transport: str) -> None:
    log: list[tuple[str, str]] = []
    sio = chat_server(log)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        sid = client.sid
        await sio.shutdown()
        await client.wait_idle()
        for _ in range(100):
            if not client.connected:
                break
            await asyncio.sleep(0.005)
        assert client.disconnect_reason == "transport close"
        assert log == [(sid, "server shutting down")]


async def test_many_clients_at_once(transport: str) -> None:
    sio = aiosio.AsyncServer()
    seen: list[Any] = []

    @sio.event
    async def hello(sid: str, n: int) -> int:
        seen.append(n)
        return n * n

    async with TestServer(sio) as server:
        clients = await asyncio.gather(*(server.connect(transport=transport) for _ in range(20)))
        squares = await asyncio.gather(*(c.call("hello", i) for i, c in enumerate(clients)))
        assert squares == [i * i for i in range(20)]
        assert len({c.sid for c in clients}) == 20
        assert len(sio.eio.sockets) == 20


async def test_connection_state_recovery_after_a_lost_connection(transport: str) -> None:
    sio = aiosio.AsyncServer(connection_state_recovery={})
    recovered: list[bool] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        recovered.append(sio.recovered(sid))

    @sio.event
    async def join(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)
        await sio.save_session(sid, {"room": room})

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        await client.call("join", "red")
        await sio.emit("before", 1, room="red")
        assert (await client.receive("before")).args == [1]  # the offset is not an argument
        sid = client.sid
        await client.lose_connection()
        await sio.emit("missed", {"n": 2}, room="red")
        await client.connect()
        assert client.recovered and client.sid == sid and recovered == [False, True]
        assert (await client.receive("missed")).args == [{"n": 2}]
        assert "red" in sio.rooms(sid) and await sio.get_session(sid) == {"room": "red"}
        # A deliberate disconnect forgets the session: the next connect is a new one.
        await client.disconnect()
        await client.connect()
        assert not client.recovered and client.sid != sid
