"""Traffic counters, exactly: a broadcast is counted once by the adapter (recipients x size), not
per recipient by the sockets; a direct send and an inbound packet by the session; the totals never
go down, even for a scrape racing a session's close.

Peers: aiosio's client over real WebSockets (a server on a random port), pings far away so every
packet is one the test sends.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.metrics.support import until

import aiosio
from aiosio.server.observe import Traffic, traffic

pytestmark = pytest.mark.timeout(30)


async def _clients(url: str, count: int, got: list[Any]) -> list[aiosio.AsyncClient]:
    clients = []
    for _ in range(count):
        client = aiosio.AsyncClient()
        client.on("msg", lambda data: got.append(data))
        await client.connect(url, transports=["websocket"])
        clients.append(client)
    return clients


def _delta(after: Traffic, before: Traffic) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(after, before, strict=True))


async def test_a_broadcast_is_counted_once_by_the_adapter_not_per_recipient(serve: Any) -> None:
    sio = aiosio.AsyncServer(ping_interval=60, ping_timeout=60)
    handle = await serve(sio)
    got: list[Any] = []
    clients = await _clients(handle.url, 3, got)
    sessions = list(sio.eio.core.sessions.values())
    per_session = [s.packets_out for s in sessions]
    before = traffic(sio)
    await sio.emit("msg", "hello")
    volatile = sio.emit("msg", "vol")  # a volatile broadcast: counted for those it reached
    await volatile
    await until(lambda: len(got) == 6)
    after = traffic(sio)
    size = len(b'42["msg","hello"]') + len(b'42["msg","vol"]')
    assert _delta(after, before) == (0, 6, 0, 3 * size)
    # The fan-out wrote nothing into the sessions' own counters (no work per recipient).
    assert [s.packets_out for s in sessions] == per_session
    assert sio._adapter.sent_packets == 6
    for client in clients:
        await client.disconnect()


async def test_direct_sends_and_inbound_packets_are_counted_by_the_session(serve: Any) -> None:
    sio = aiosio.AsyncServer(ping_interval=60, ping_timeout=60)
    received: list[Any] = []

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    async def note(sid: str, data: Any) -> None:
        received.append(data)

    handle = await serve(sio)
    got: list[Any] = []
    (client,) = await _clients(handle.url, 1, got)
    (session,) = sio.eio.core.sessions.values()
    (sid,) = (s for s in sio._sockets)
    before = traffic(sio)
    own = (session.packets_in, session.packets_out, session.bytes_in, session.bytes_out)
    await sio.emit("msg", "x" * 100, to=sid)  # one sid: a direct send
    await sio.emit("msg", "é", to=sid)  # outbound text: UTF-8 bytes
    await until(lambda: len(got) == 2)
    await client.emit("note", "é" * 10)  # inbound text: characters
    await until(lambda: len(received) == 1)
    assert await client.call("echo", "abc") == "abc"
    after = traffic(sio)
    direct = len(b'42["msg","' + b"x" * 100 + b'"]') + len('42["msg","é"]'.encode())
    note_in = len('42["note","' + "é" * 10 + '"]')
    call_in = len('420["echo","abc"]')
    ack_out = len(b'430["abc"]')
    assert _delta(after, before) == (2, 3, note_in + call_in, direct + ack_out)
    now = (session.packets_in, session.packets_out, session.bytes_in, session.bytes_out)
    assert _delta(Traffic(*now), Traffic(*own)) == (2, 3, note_in + call_in, direct + ack_out)
    await client.disconnect()
    await until(lambda: not sio.eio.core.sessions)
    # An ended session's counts stay in the totals (the client's DISCONNECT "41" and CLOSE "1").
    assert _delta(traffic(sio), after) == (2, 0, 3, 0)


class _ClosingView(dict[str, Any]):
    """``core.sessions`` whose ``values()`` first closes one session: what a scrape thread sees
    when the loop closes that session between reading ``traffic_closed`` and the sessions."""

    def values(self) -> Any:
        for session in list(dict.values(self)):
            if session.packets_out:
                session.close("transport close", send_close=False)
                break
        return dict.values(self)


async def test_traffic_never_goes_down_when_a_close_races_the_read(serve: Any) -> None:
    sio = aiosio.AsyncServer(ping_interval=60, ping_timeout=60)
    handle = await serve(sio)
    got: list[Any] = []
    clients = await _clients(handle.url, 2, got)
    core = sio.eio.core
    first = traffic(sio)
    # The read of traffic_closed happens before the close, the copy of the sessions after it:
    # the closing session's packets are in neither sum.
    core.sessions = _ClosingView(core.sessions)
    raced = traffic(sio)
    core.sessions = dict(core.sessions)
    assert len(core.sessions) == 1
    assert all(r >= f for r, f in zip(raced, first, strict=True)), (first, raced)
    settled = traffic(sio)
    assert settled.packets_out == first.packets_out
    for client in clients:
        await client.disconnect()
    await asyncio.sleep(0)


async def test_packets_held_for_the_connect_reply_are_counted_once(serve: Any) -> None:
    """Sent while the connect handler runs, they wait for the CONNECT reply: counted when queued
    (a direct send by the session, a broadcast by the adapter), not again when released."""
    sio = aiosio.AsyncServer(ping_interval=60, ping_timeout=60)

    @sio.event
    async def connect(sid: str, environ: Any) -> None:
        await sio.emit("msg", "direct", to=sid)
        await sio.emit("msg", "everyone")

    handle = await serve(sio)
    before = traffic(sio)
    got: list[Any] = []
    (client,) = await _clients(handle.url, 1, got)
    await until(lambda: len(got) == 2)
    (session,) = sio.eio.core.sessions.values()
    (sid,) = sio._sockets
    open_len = len(sio.eio.core.open_frame(session).payload)
    out = open_len + len(f'40{{"sid":"{sid}"}}') + len(b'42["msg","direct"]') + len(b'42["msg","everyone"]')
    assert _delta(traffic(sio), before)[1::2] == (4, out)
    await client.disconnect()
