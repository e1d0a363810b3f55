"""Slow readers: outbound data per session is bounded; past the bound the session is closed.

A client that stops reading is disconnected with reason "slow consumer" once its backlog passes
``max_queue_bytes`` (WebSocket: asyncio's write buffer; polling: the queue) or ``max_queue_packets``
(polling), while a client that reads keeps receiving every message, in order.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import orjson
import pytest

pytestmark = pytest.mark.timeout(40)

QUEUE_BYTES = 256 * 1024


async def test_stalled_websocket_reader_is_closed_while_healthy_one_gets_everything(make_server):
    h = await make_server(max_queue_bytes=QUEUE_BYTES)
    healthy = await h.ws()
    await h.stalled_ws()
    await h.until(lambda: len(h.connects) == 2)
    slow_sid = h.connects[1]
    received: list[int] = []
    done = asyncio.Event()

    async def read_healthy():
        while not done.is_set() or len(received) < sent:
            msg = await healthy.recv()
            if isinstance(msg, str) and msg.startswith('42["big"'):
                received.append(orjson.loads(msg[2:])[1]["n"])

    pad = "x" * 32 * 1024
    sent = 0
    reader = asyncio.ensure_future(read_healthy())
    try:
        # Broadcast until the stalled client is cut off (the kernel buffers a few MB first), then a
        # little more; the healthy client is never more than a few messages behind.
        after = 0
        while after < 20:
            assert sent < 2_000, "the stalled client was never disconnected"
            await h.sio.emit("big", {"n": sent, "pad": pad})
            sent += 1
            if h.reasons(slow_sid):
                after += 1
            async with asyncio.timeout(5):
                while sent - len(received) > 4:
                    await asyncio.sleep(0.001)
        done.set()
        async with asyncio.timeout(5):
            await reader
    finally:
        reader.cancel()
    assert h.reasons(slow_sid) == ["slow consumer"]
    assert received == list(range(sent))
    assert set(h.sio.eio.sockets) == {healthy.eio_sid}
    await h.assert_unharmed(healthy)


async def test_polling_client_that_never_polls_is_closed_past_max_queue_packets(make_server):
    h = await make_server(max_queue_packets=50)
    healthy = await h.ws()
    lazy = await h.polling()
    for i in range(50):
        await h.sio.emit("tick", i)
    assert h.reasons(lazy.sid) == [], "closed before the queue was over its bound"
    await h.sio.emit("tick", 50)
    assert h.reasons(lazy.sid) == ["slow consumer"]
    await lazy.assert_dead()
    ticks = []
    while len(ticks) < 51:
        msg = await healthy.expect('42["tick"')
        ticks.append(orjson.loads(msg[2:])[1])
    assert ticks == list(range(51))
    await h.assert_unharmed(healthy)


async def test_polling_client_that_never_polls_is_closed_past_max_queue_bytes(make_server):
    h = await make_server(max_queue_bytes=QUEUE_BYTES)
    healthy = await h.ws()
    lazy = await h.polling()
    pad = "x" * 40 * 1024
    for i in range(6):  # 6 x 40 KiB: under 256 KiB
        await h.sio.emit("big", {"n": i, "pad": pad})
    assert h.reasons(lazy.sid) == []
    await h.sio.emit("big", {"n": 6, "pad": pad})
    assert h.reasons(lazy.sid) == ["slow consumer"]
    await lazy.assert_dead()
    await h.assert_unharmed(healthy)


async def test_polling_client_that_polls_is_never_cut_off(make_server):
    h = await make_server(max_queue_packets=50)
    client = await h.polling()
    got: list[int] = []

    async def poll_forever():
        while len(got) < 500:
            for packet in await client.packets():
                if packet.startswith('42["tick"'):
                    got.append(orjson.loads(packet[2:])[1])

    poller = asyncio.ensure_future(poll_forever())
    try:
        for i in range(500):
            await h.sio.emit("tick", i)
            if i % 25 == 24:  # bursts of 25, below the bound, with time to poll in between
                async with asyncio.timeout(5):
                    while len(got) < i + 1:
                        await asyncio.sleep(0.001)
        async with asyncio.timeout(5):
            await poller
    finally:
        poller.cancel()
    assert got == list(range(500))
    assert h.reasons(client.sid) == []
    h.assert_no_tracebacks()


async def test_burst_to_a_vanished_websocket_client_is_quiet(server):
    """Emitting to a client whose connection just died (before the server noticed) logs nothing.

    asyncio warns once per write to a transport that lost its connection; a burst of emits to a
    client that just vanished must not turn into a burst of warnings.
    """
    bystander = await server.ws()
    _reader, writer = await server.raw_ws()
    await server.until(lambda: len(server.connects) == 2)
    sid = server.connects[1]
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST: the server's next send fails at once
    await asyncio.sleep(0)
    for i in range(50):
        await server.sio.emit("x", i, to=sid)
    await server.until(lambda: server.reasons(sid))
    assert server.reasons(sid) == ["transport error"]
    noise = [r.getMessage() for r in server.caplog.records if r.name == "asyncio"]
    assert noise == []
    await server.assert_unharmed(bystander)
