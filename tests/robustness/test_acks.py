"""Acknowledgements: a lost client fails ``call()`` at once; stray acks are ignored; one ack per event."""

from __future__ import annotations

import asyncio
import re
import time

import orjson
import pytest

from aiosio import exceptions

pytestmark = pytest.mark.timeout(15)

_EVENT_WITH_ACK = re.compile(r"^42(\d+)\[")


async def _start_call(h, client, timeout: float = 30.0) -> tuple[asyncio.Future, int]:
    """Begin ``sio.call`` to ``client``; return the pending call and the ack id the client saw."""
    call = asyncio.ensure_future(h.sio.call("question", "why?", to=client.sid, timeout=timeout))
    message = await client.expect("42")
    match = _EVENT_WITH_ACK.match(message)
    assert match, message
    return call, int(match.group(1))


async def _leave_by_closing_websocket(h, client):
    await client.close()


async def _leave_by_socketio_disconnect(h, client):
    await client.send("41")


async def _leave_by_engineio_close(h, client):
    await client.send("1")


async def _leave_by_server_disconnect(h, client):
    await h.sio.disconnect(client.sid)


@pytest.mark.parametrize(
    "leave",
    [
        _leave_by_closing_websocket,
        _leave_by_socketio_disconnect,
        _leave_by_engineio_close,
        _leave_by_server_disconnect,
    ],
    ids=["websocket-closed", "socketio-disconnect", "engineio-close", "server-disconnect"],
)
async def test_call_fails_at_once_when_client_disconnects(server, leave):
    bystander = await server.ws()
    client = await server.ws()
    call, _ = await _start_call(server, client)
    started = time.monotonic()
    await leave(server, client)
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(call, 3)
    assert time.monotonic() - started < 1.0, "call() waited instead of failing at once"
    await server.assert_unharmed(bystander)


async def test_call_fails_at_once_when_polling_client_is_closed(server):
    bystander = await server.ws()
    client = await server.polling()
    call = asyncio.ensure_future(server.sio.call("question", to=client.sid, timeout=30))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert await client.post("1") == (200, "ok")
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(call, 3)
    assert time.monotonic() - started < 1.0
    await server.assert_unharmed(bystander)


async def test_call_without_answer_times_out(server):
    client = await server.ws()
    call, _ = await _start_call(server, client, timeout=0.2)
    with pytest.raises(exceptions.TimeoutError):
        await asyncio.wait_for(call, 3)
    assert not server.sio._sockets[client.sid].acks
    await server.assert_unharmed(client)


async def test_duplicated_ack_from_client_is_ignored(server):
    client = await server.ws()
    call, ack_id = await _start_call(server, client)
    await client.send(f'43{ack_id}["first"]')
    await client.send(f'43{ack_id}["second"]')
    assert await asyncio.wait_for(call, 3) == "first"
    # A later call gets its own answer, not the stale duplicate.
    call, ack_id2 = await _start_call(server, client)
    assert ack_id2 != ack_id
    await client.send(f'43{ack_id}["stale"]')
    await client.send(f'43{ack_id2}["fresh"]')
    assert await asyncio.wait_for(call, 3) == "fresh"
    await server.assert_unharmed(client)


@pytest.mark.parametrize(
    "stray",
    ['43999["x"]', '439007199254740991["x"]', '43/admin,0["x"]', "435[]"],
    ids=["unknown-id", "max-safe-integer", "unjoined-namespace", "empty-ack"],
)
async def test_unknown_ack_from_client_is_ignored(server, stray):
    bystander = await server.ws()
    client = await server.ws()
    await client.send(stray)
    call, ack_id = await _start_call(server, client)
    await client.send(stray)
    await client.send(f'43{ack_id}["real"]')
    assert await asyncio.wait_for(call, 3) == "real"
    await server.assert_unharmed(bystander, client)


async def _acks_received(client, window: float = 0.3) -> list[str]:
    """Every ACK that arrives within ``window`` seconds."""
    acks = []
    try:
        async with asyncio.timeout(window):
            while True:
                message = await client.recv()
                if isinstance(message, str) and message.startswith("43"):
                    acks.append(message)
    except TimeoutError:
        pass
    return acks


@pytest.mark.parametrize("kind", ["sync", "async-suspending"])
async def test_handler_ack_is_sent_exactly_once(server, kind):
    if kind == "sync":
        server.sio.on("answer", lambda sid, x: x * 2)
    else:

        async def answer(sid, x):
            await asyncio.sleep(0.01)
            return x * 2

        server.sio.on("answer", answer)
    client = await server.ws()
    await client.send('427["answer",21]')
    assert await _acks_received(client) == ["437[42]"]
    # The same id used again is a new event, and gets its own single answer.
    await client.send('427["answer",1]')
    assert await _acks_received(client) == ["437[2]"]
    await server.assert_unharmed(client)


@pytest.mark.parametrize("rejoin", [False, True], ids=["left", "left-and-rejoined"])
async def test_no_ack_sent_after_client_left_mid_handler(server, rejoin):
    """The client leaves "/" (DISCONNECT) while the handler of its acked event still runs, but keeps
    its Engine.IO connection open, where an ack would show: none comes when the handler returns,
    not even after the client has joined "/" again (a new socket, whose ack ids are its own)."""
    gate = asyncio.Event()
    finished = asyncio.Event()

    async def slow_answer(sid):
        await gate.wait()
        finished.set()
        return "late"

    server.sio.on("slow_answer", slow_answer)
    bystander = await server.ws()
    client = await server.ws()
    await client.send('425["slow_answer"]')
    await server.until(lambda: server.sio._sockets[client.sid].session.inflight == 1)
    await client.send("41")
    await server.until(lambda: server.reasons(client.sid))
    if rejoin:
        await client.send("40")
        client.sid = orjson.loads((await client.expect("40{"))[2:])["sid"]
    gate.set()
    await asyncio.wait_for(finished.wait(), 3)
    assert await _acks_received(client) == [], "an ack was sent for a socket that had left"
    if rejoin:
        await client.echo("the new socket works")
    assert not server.sio.eio.get(client.eio_sid).closed
    await server.assert_unharmed(bystander)


async def test_emit_callback_not_called_when_client_leaves(server):
    called = []
    client = await server.ws()
    await server.sio.emit("question", "x", to=client.sid, callback=lambda *a: called.append(a))
    await client.expect("42")
    await client.close()
    await server.until(lambda: server.reasons(client.sid))
    assert called == []
    await server.assert_unharmed()
