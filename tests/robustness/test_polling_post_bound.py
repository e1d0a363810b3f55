"""The inbound bound holds inside one long-polling POST, and at its very last packet.

A POST is handled without waiting while its packets fit the handler backlog and the held bytes;
the packet that takes the held bytes past ``max_http_buffer_size`` stops the handling there (the
rest waits, unread, for the handlers), and a POST whose last packet does so is answered only once
the handlers have caught up. See docs/reliability.md and test_guarantees_backlog.py.
"""

from __future__ import annotations

import asyncio

import pytest

from aiosio.engine.session import BACKLOG_FACTOR, HELD_OVERHEAD

pytestmark = pytest.mark.timeout(30)

INFLIGHT, LIMIT = 1, 3_000


async def _blocked_server(make_server):
    """A server whose ``block`` handler waits for the returned gate, and the ids it started."""
    h = await make_server(max_inflight=INFLIGHT, max_http_buffer_size=LIMIT)
    gate = asyncio.Event()
    started: list[int] = []

    async def block(sid, n):
        started.append(n)
        await gate.wait()

    h.sio.on("block", block)
    return h, gate, started


def _body(ids: range) -> str:
    return "\x1e".join(f'42["block",{i}]' for i in ids)


async def test_a_long_post_stops_taking_packets_at_the_bound(make_server):
    h, gate, started = await _blocked_server(make_server)
    try:
        client = await h.polling()
        session = h.sio.eio.get(client.eio_sid)
        total = 150  # far more than the held bytes can take (the body itself within the limit)
        post = asyncio.ensure_future(client.post(_body(range(1000, 1000 + total)), timeout=10))
        await h.until(lambda: session.saturated)
        await asyncio.sleep(0.2)
        assert not post.done(), "the POST was answered although the server stopped taking its packets"
        message = len('2["block",1000]') + HELD_OVERHEAD
        assert LIMIT < session._held_bytes <= LIMIT + message, session._held_bytes
        assert len(session._backlog) == BACKLOG_FACTOR * INFLIGHT
    finally:
        gate.set()
    assert await post == (200, "ok")
    await h.until(lambda: len(started) == total)
    assert started == list(range(1000, 1000 + total))
    h.assert_no_tracebacks()


async def test_a_post_whose_last_packet_passes_the_bound_waits_for_the_handlers(make_server):
    h, gate, started = await _blocked_server(make_server)
    try:
        client = await h.polling()
        session = h.sio.eio.get(client.eio_sid)
        cost = len('2["block",1000]') + HELD_OVERHEAD  # every id has four digits
        fits = LIMIT // cost  # held messages that stay within the bound
        first = INFLIGHT + BACKLOG_FACTOR * INFLIGHT + fits
        assert await client.post(_body(range(1000, 1000 + first)), timeout=2) == (200, "ok")
        assert session._held_bytes == fits * cost and not session.saturated
        # One packet more passes the bound: it is taken (it is the last), then the POST waits.
        post = asyncio.ensure_future(client.post(_body(range(1000 + first, 1001 + first)), timeout=10))
        await h.until(lambda: session.saturated)
        await asyncio.sleep(0.2)
        assert not post.done(), "answered while the held messages were past the bound"
    finally:
        gate.set()
    assert await post == (200, "ok")
    await h.until(lambda: len(started) == first + 1)
    assert started == list(range(1000, 1001 + first))
    h.assert_no_tracebacks()
