"""The slow-consumer byte bound is the memory really held for a client, at the configured cap.

A broadcast encodes each packet once (``Frame``) and caches its WebSocket form for WebSocket
recipients. A long-polling client's queue must not keep that frame (and so the WebSocket copy) alive:
it holds the polling form only, and counts exactly that, so a client that never polls is cut off
when what the server holds for it reaches ``max_queue_bytes``, not twice that. Measured with
tracemalloc (what is really allocated), not with the server's own counter.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest

from .conftest import Harness, MakeServer

pytestmark = pytest.mark.timeout(60)

CAP = 1024 * 1024
#: What the measure may be off by: the broadcast's own short-lived objects, aiohttp's buffers.
MARGIN = 96 * 1024


def retained() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def fill_until_cut_off(h: Harness, sid: str, payload: object, size: int) -> tuple[int, int]:
    """Broadcast ``payload`` until ``sid`` is a slow consumer; return (bytes held just before, sends).

    ``gc.freeze()`` first: every ``retained()`` collects only what was made since, so a late test in a
    big test process stays fast (a full collection per send under tracemalloc took long enough, late
    in the whole suite, for the never-polling client to be dropped by its ping timeout first)."""
    gc.collect()
    gc.freeze()
    tracemalloc.start()
    try:
        base = retained()
        held_before_cut = 0
        for sends in range(1, 4 * CAP // size):
            held = retained() - base
            await h.sio.emit("big", payload)
            await asyncio.sleep(0)
            if h.reasons(sid):
                return held_before_cut or held, sends
            held_before_cut = held
        raise AssertionError("never cut off")
    finally:
        tracemalloc.stop()
        gc.unfreeze()


@pytest.mark.parametrize("kind", ["text", "binary"])
async def test_polling_queue_is_cut_off_at_the_byte_cap_of_what_it_really_holds(
    make_server: MakeServer, kind: str
) -> None:
    h = await make_server(max_queue_bytes=CAP, max_queue_packets=100_000)
    reader = await h.ws()  # a WebSocket recipient: every broadcast frame gets its WebSocket form
    lazy = await h.polling()
    await h.until(lambda: len(h.connects) == 2)
    size = 16 * 1024
    payload: object = "x" * size if kind == "text" else b"\x00" * size
    async with reader.answering_pings():
        held, sends = await fill_until_cut_off(h, lazy.sid, payload, size)
    assert h.reasons(lazy.sid) == ["slow consumer"]
    # Binary packets wait in base64 (4/3 of their size): that is what the queue holds and counts.
    per_packet = size if kind == "text" else size * 4 // 3
    assert sends == pytest.approx(CAP / per_packet, abs=2), (sends, held)
    assert held <= CAP + MARGIN, f"held {held} bytes for a cap of {CAP}"
    assert held >= CAP - 2 * per_packet - MARGIN, f"held only {held} bytes: the measure is broken"
    await lazy.assert_dead()
    await h.assert_unharmed(reader)


async def test_stalled_websocket_is_cut_off_at_the_byte_cap(make_server: MakeServer) -> None:
    h = await make_server(max_queue_bytes=CAP)
    _reader, writer = await h.stalled_ws()
    await h.until(lambda: len(h.connects) == 1)
    sid = h.connects[0]
    session = next(iter(h.sio._core.sessions.values()))
    transport = session._wt
    assert transport is not None
    size = 16 * 1024
    peak = 0
    for _ in range(10_000):
        await h.sio.emit("big", "x" * size)
        if h.reasons(sid):
            break
        peak = max(peak, transport.get_write_buffer_size())
        await asyncio.sleep(0)
    assert h.reasons(sid) == ["slow consumer"]
    # Cut off by the first write that took the buffer past the cap: never more than one packet over.
    assert CAP - 2 * size <= peak <= CAP
    writer.transport.abort()
