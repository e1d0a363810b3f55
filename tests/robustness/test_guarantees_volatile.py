"""Volatile emits are dropped exactly where docs/reliability.md says, and nowhere else.

Dropped when the client's transport cannot take the packet right now: polling with no GET waiting,
an upgrade in progress, a WebSocket with more than ``volatile_threshold`` bytes buffered, and (for
a socket whose ``connect`` handler still runs) before its CONNECT reply is out. Delivered otherwise,
whether sent to one sid, a room, a list of rooms or everyone. A dropped packet is never sent later.
"""

from __future__ import annotations

import asyncio
import struct

import orjson
import pytest

from .conftest import STEP

pytestmark = pytest.mark.timeout(30)


def _events(packets: list[str], name: str) -> list[object]:
    prefix = f'42["{name}"'
    return [orjson.loads(p[2:])[1] for p in packets if p.startswith(prefix)]


async def _ws_events_until(client, marker: int) -> list[str]:
    """Text messages up to and including the ``mark`` event carrying ``marker``."""
    seen = []
    async with asyncio.timeout(STEP):
        while True:
            msg = await client.recv()
            seen.append(msg)
            if msg == f'42["mark",{marker}]':
                return seen


async def _poll_until(client, marker: int, seen: list[str] | None = None) -> list[str]:
    """Packets of successive GETs (after those already ``seen``) up to the ``mark`` event carrying
    ``marker``."""
    seen = list(seen or [])
    async with asyncio.timeout(STEP):
        while f'42["mark",{marker}]' not in seen:
            seen += await client.packets()
    return seen


async def _waiting_get(h, client) -> asyncio.Future[list[str]]:
    """Start a GET and return once the server holds it open."""
    get = asyncio.ensure_future(client.packets())
    session = h.sio.eio.get(client.eio_sid)
    await h.until(lambda: session._poll is not None)
    return get


# -- delivered -------------------------------------------------------------------------------------


async def test_volatile_reaches_a_websocket_client(server):
    client = await server.ws()
    await server.sio.emit("v", 1, to=client.sid, volatile=True)
    await server.sio.emit("mark", 1, to=client.sid)
    assert _events(await _ws_events_until(client, 1), "v") == [1]
    await server.assert_unharmed(client)


async def test_volatile_reaches_a_polling_client_with_a_waiting_get(server):
    client = await server.polling()
    get = await _waiting_get(server, client)
    await server.sio.emit("v", 1, to=client.sid, volatile=True)
    assert _events(await get, "v") == [1]
    server.assert_no_tracebacks()


@pytest.mark.parametrize("target", ["everyone", "room", "rooms"])
async def test_volatile_broadcast_reaches_exactly_the_clients_that_can_take_it(server, target):
    h = server
    ws_client = await h.ws()
    waiting = await h.polling()
    idle = await h.polling()  # connected, but no GET waiting
    for client in (ws_client, waiting, idle):
        await h.sio.enter_room(client.sid, "r")
    to = {"everyone": None, "room": "r", "rooms": [ws_client.sid, waiting.sid, idle.sid]}[target]
    get = await _waiting_get(h, waiting)
    await h.sio.emit("v", 7, to=to, volatile=True)
    await h.sio.emit("mark", 1, to=to)
    assert _events(await _poll_until(waiting, 1, await get), "v") == [7]
    assert _events(await _ws_events_until(ws_client, 1), "v") == [7]
    assert _events(await _poll_until(idle, 1), "v") == [], "a volatile packet was queued for a GET"
    await h.assert_unharmed(ws_client)


# -- dropped ---------------------------------------------------------------------------------------


async def test_volatile_to_a_polling_client_without_a_waiting_get_is_dropped(server):
    client = await server.polling()
    await server.sio.emit("v", 1, to=client.sid, volatile=True)
    await server.sio.emit("mark", 1, to=client.sid)
    packets = await _poll_until(client, 1)
    assert _events(packets, "v") == []
    # ... and never sent later either, not even when a GET is waiting by then.
    get = await _waiting_get(server, client)
    await server.sio.emit("mark", 2, to=client.sid)
    assert _events(await get, "v") == []
    server.assert_no_tracebacks()


async def test_volatile_during_an_upgrade_is_dropped_even_with_a_get_waiting(server):
    h = server
    client = await h.polling()
    session = h.sio.eio.get(client.eio_sid)
    get = await _waiting_get(h, client)
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await h.until(lambda: session.upgrading)
    await h.sio.emit("v", 1, to=client.sid, volatile=True)
    await h.sio.emit("mark", 1, to=client.sid)
    polled = await _poll_until(client, 1, await get)
    assert _events(polled, "v") == []
    # After the probe, too.
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    await h.sio.emit("v", 2, to=client.sid, volatile=True)
    await h.sio.emit("mark", 2, to=client.sid)
    await ws.send_str("5")
    async with asyncio.timeout(STEP):
        on_ws = [(await ws.receive()).data]
    assert on_ws == ['42["mark",2]']
    # Once upgraded the WebSocket takes volatile packets again.
    await h.sio.emit("v", 3, to=client.sid, volatile=True)
    async with asyncio.timeout(STEP):
        assert (await ws.receive()).data == '42["v",3]'
    await ws.close()
    h.assert_no_tracebacks()


async def test_volatile_to_a_websocket_over_the_buffer_threshold_is_dropped(make_server):
    """A WebSocket whose client stopped reading: once more than ``volatile_threshold`` bytes wait in
    the server's write buffer, volatile packets are dropped while normal ones still queue."""
    threshold = 8 * 1024
    h = await make_server(volatile_threshold=threshold, max_queue_bytes=64 * 1024 * 1024)
    reader, _writer = await h.stalled_ws()
    await h.until(lambda: len(h.connects) == 1)
    sid = h.connects[0]
    session = h.sio._sockets[sid].session
    pad = "x" * 16 * 1024
    sent = 0
    while session._wt.get_write_buffer_size() <= threshold:
        assert sent < 2_000, "the write buffer never filled"
        await h.sio.emit("fill", {"n": sent, "pad": pad}, to=sid)
        sent += 1
        await asyncio.sleep(0)
    assert not session.writable
    await h.sio.emit("v", 1, to=sid, volatile=True)
    await h.sio.emit("v", 2, volatile=True)  # broadcast: same rule
    await h.sio.emit("mark", 1, to=sid)
    texts = await _read_server_texts(reader, '42["mark",1]')
    assert sum(t.startswith('42["fill"') for t in texts) == sent
    assert _events(texts, "v") == []
    h.assert_no_tracebacks()


async def test_volatile_emitted_before_the_connect_reply_is_dropped(server):
    """Packets emitted while the ``connect`` handler runs wait for the CONNECT reply (guarantee 3);
    a volatile one is not kept waiting: the client cannot take it yet, so it is dropped."""
    h = server

    async def connect(sid, environ, auth=None):
        await h.sio.emit("v", 1, to=sid, volatile=True)
        await h.sio.emit("early", 1, to=sid)

    h.sio.on("connect", connect)
    client = await h.ws(connect=False)
    await client.send("40")
    await client.expect("40{")
    await h.sio.emit("mark", 1)
    seen = await _ws_events_until(client, 1)
    assert _events(seen, "early") == [1]
    assert _events(seen, "v") == []
    h.assert_no_tracebacks()


async def _read_server_texts(reader: asyncio.StreamReader, last: str) -> list[str]:
    """Read unmasked server WebSocket frames (text only) until the text ``last``."""
    texts: list[str] = []
    async with asyncio.timeout(STEP):
        while not texts or texts[-1] != last:
            head = await reader.readexactly(2)
            n = head[1] & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(n)
            if head[0] & 0x0F == 0x1:
                texts.append(payload.decode())
    return texts
