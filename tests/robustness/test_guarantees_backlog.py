"""The inbound bound under an event flood, and what still gets through it (docs/reliability.md).

At most ``max_inflight`` handlers run per connection; up to ten times that many more wait in a
backlog; messages read after that are held back, unparsed, up to ``max_http_buffer_size`` bytes;
past that the server stops reading from the connection. Until that last point ACKs and PONGs are
still read and handled at once, so handlers that wait for their own client's acks keep going and
the heartbeat keeps the connection alive; and while the server itself is not reading, a PONG it
cannot see is not held against the client.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from aiosio import exceptions
from aiosio.engine.session import BACKLOG_FACTOR, HELD_OVERHEAD

pytestmark = pytest.mark.timeout(40)

_QUESTION = re.compile(r'^42(\d+)\["question",(\d+)\]$')


@pytest.fixture
def blocking(make_server):
    """``gate, started = blocking(h)``: a ``block`` handler that records its argument when it starts,
    then waits for ``gate``. Every gate is opened at teardown (before the servers stop), so a test
    that fails midway does not leave handlers hanging."""
    gates: list[asyncio.Event] = []

    def install(h) -> tuple[asyncio.Event, list[int]]:
        gate = asyncio.Event()
        gates.append(gate)
        started: list[int] = []

        async def block(sid, n):
            started.append(n)
            await gate.wait()

        h.sio.on("block", block)
        return gate, started

    yield install
    for gate in gates:
        gate.set()


async def test_websocket_flood_fills_backlog_then_held_bytes_then_reading_pauses(make_server, blocking):
    """Each stage of the bound holds exactly what it should, the reader stops at the last one, and
    everything read is handled afterwards, in arrival order."""
    inflight, limit = 2, 2_000
    h = await make_server(max_inflight=inflight, max_http_buffer_size=limit)
    gate, started = blocking(h)
    client = await h.ws()
    session = h.sio.eio.get(client.eio_sid)
    backlog = BACKLOG_FACTOR * inflight
    total = 400  # far more than the backlog and the held bytes can take
    for i in range(total):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session.saturated)
    await asyncio.sleep(0.2)  # time enough to read more, if reading had not stopped
    assert session.inflight == inflight
    assert started == list(range(inflight))
    assert len(session._backlog) == backlog
    message = len('["block",399]') + HELD_OVERHEAD
    held = len(session._held)
    assert limit < session._held_bytes <= limit + message, session._held_bytes
    assert held < total - inflight - backlog, "reading never paused: the held messages grew unbounded"
    assert session._inflight_waiter is not None, "the read loop is not waiting"
    # While it drains, held messages move into the backlog only as it has room.
    peak = 0

    async def watch(sid, n):  # handles the messages that were still held (decoded only now)
        nonlocal peak
        peak = max(peak, len(session._backlog or ()))
        started.append(n)
        await asyncio.sleep(0)  # suspends, so it takes a slot (also where handlers start eagerly)

    h.sio.on("block", watch)
    gate.set()
    await h.until(lambda: len(started) == total)
    assert started == list(range(total))
    await h.until(lambda: session._held is None and session._backlog is None and not session.saturated)
    assert 0 < peak <= backlog
    await client.echo("after the flood")
    h.assert_no_tracebacks()


async def test_polling_post_is_answered_once_held_messages_fit_and_waits_past_bound(make_server, blocking):
    """A POST whose events fit the backlog and held bytes is answered at once, so the client can go
    on posting (its acks, say); one that passes the bound is answered when the server catches up."""
    inflight, limit = 1, 3_000
    h = await make_server(max_inflight=inflight, max_http_buffer_size=limit)
    gate, started = blocking(h)
    client = await h.polling()
    fits = inflight + BACKLOG_FACTOR * inflight + 5
    body = "\x1e".join(f'42["block",{i}]' for i in range(fits))
    assert await client.post(body, timeout=2) == (200, "ok")
    session = h.sio.eio.get(client.eio_sid)
    assert len(session._held) == 5 and not session.saturated
    # Now more than the held bytes can take: the POST is answered only after the handlers ran.
    more = 60
    body = "\x1e".join(f'42["block",{fits + i}]' for i in range(more))
    post = asyncio.ensure_future(client.post(body, timeout=10))
    await h.until(lambda: session.saturated)
    await asyncio.sleep(0.2)
    assert not post.done(), "the POST was answered although the server stopped taking its packets"
    gate.set()
    assert await post == (200, "ok")
    await h.until(lambda: len(started) == fits + more)
    assert started == list(range(fits + more))
    h.assert_no_tracebacks()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_acks_are_handled_while_events_wait(make_server, transport):
    """Handlers that ``call()`` their own client get its answers although the backlog is full: the
    ACKs are read past the waiting events. Without that, each call would wait for its timeout."""
    inflight = 2
    h = await make_server(max_inflight=inflight)
    answers: list[object] = []

    async def ask(sid, n):
        try:
            answers.append(await h.sio.call("question", n, to=sid, timeout=3))
        except exceptions.TimeoutError:
            answers.append("timeout")

    h.sio.on("ask", ask)
    total = inflight + BACKLOG_FACTOR * inflight + 10
    events = [f'42["ask",{i}]' for i in range(total)]

    if transport == "websocket":
        client = await h.ws()
        for event in events:
            await client.ws.send_str(event)
        session = h.sio.eio.get(client.eio_sid)
        await h.until(lambda: session._held is not None)
        assert session.backlog_full
        async with asyncio.timeout(10):
            for _ in range(total):
                match = _QUESTION.match(await client.expect("42"))
                assert match
                await client.send(f"43{match.group(1)}[{match.group(2)}]")
    else:
        client = await h.polling()
        assert await client.post("\x1e".join(events), timeout=2) == (200, "ok")
        session = h.sio.eio.get(client.eio_sid)
        assert session.backlog_full and session._held is not None
        asked = 0
        async with asyncio.timeout(10):
            while asked < total:
                acks = []
                for packet in await client.packets():
                    match = _QUESTION.match(packet)
                    if match:
                        acks.append(f"43{match.group(1)}[{match.group(2)}]")
                if acks:
                    asked += len(acks)
                    assert await client.post("\x1e".join(acks), timeout=2) == (200, "ok")
    await h.until(lambda: len(answers) == total)
    assert "timeout" not in answers
    assert sorted(answers) == list(range(total))
    h.assert_no_tracebacks()


async def test_pongs_are_read_while_events_wait(make_server, blocking):
    """A connection whose handlers are all busy for many heartbeats, with events waiting, still has
    its PONGs read (the reader never stops) and stays connected."""
    interval, timeout = 0.2, 0.3
    h = await make_server(max_inflight=1, ping_interval=interval, ping_timeout=timeout)
    gate, started = blocking(h)
    client = await h.ws()
    session = h.sio.eio.get(client.eio_sid)
    total = 1 + BACKLOG_FACTOR + 5
    for i in range(total):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session._held is not None)
    deadlines = {session.heartbeat.deadline}
    async with client.answering_pings():
        for _ in range(40):  # 2 s: several ping intervals and timeouts
            await asyncio.sleep(0.05)
            assert session._inflight_waiter is None, "the reader stopped: PONGs are not read"
            deadlines.add(session.heartbeat.deadline)
    assert len(deadlines) >= 4, "no heartbeat went by: the test proves nothing"
    assert not session.closed and h.reasons(client.sid) == []
    gate.set()
    await h.until(lambda: len(started) == total)
    await client.echo("still here")
    h.assert_no_tracebacks()


async def test_client_is_not_timed_out_while_the_server_is_not_reading(make_server, blocking):
    """Past every bound the server stops reading, so the client's PONGs sit unread behind its events:
    the heartbeat does not close the connection for that. Once the handlers catch up, reading and
    the heartbeat resume as usual."""
    interval, timeout = 0.2, 0.3
    h = await make_server(
        max_inflight=1, ping_interval=interval, ping_timeout=timeout, max_http_buffer_size=500
    )
    gate, started = blocking(h)
    client = await h.ws()
    session = h.sio.eio.get(client.eio_sid)
    total = 1 + BACKLOG_FACTOR + 40
    for i in range(total):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session._inflight_waiter is not None)
    async with client.answering_pings():
        # Longer than one heartbeat period (a PONG deadline passes unseen), within the two allowed.
        await asyncio.sleep(1.5 * (interval + timeout))
        assert session._inflight_waiter is not None
        assert not session.closed and h.reasons(client.sid) == []
        gate.set()
        await h.until(lambda: len(started) == total)
    assert started == list(range(total))
    await client.echo("still here")
    # The heartbeat goes on as usual: a client that now stops answering is timed out.
    client.autopong = False
    await h.until(lambda: h.reasons(client.sid), timeout=5)
    assert h.reasons(client.sid) == ["ping timeout"]
    h.assert_no_tracebacks()


async def test_silent_client_is_still_timed_out_while_events_wait(make_server, blocking):
    """The leniency is only for a reader the server paused: a client whose events merely wait in the
    backlog (reading goes on) and that stops answering PINGs is closed with ``ping timeout``."""
    h = await make_server(max_inflight=1, ping_interval=0.2, ping_timeout=0.3)
    gate, _started = blocking(h)
    client = await h.ws(autopong=False)
    session = h.sio.eio.get(client.eio_sid)
    for i in range(1 + BACKLOG_FACTOR + 3):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session._held is not None)
    await h.until(lambda: h.reasons(client.sid), timeout=5)
    assert h.reasons(client.sid) == ["ping timeout"]
    gate.set()
    h.assert_no_tracebacks()


async def test_held_events_of_a_closed_connection_are_dropped(make_server, blocking):
    """A client that leaves while its events wait: nothing is kept for it, no handler starts later."""
    h = await make_server(max_inflight=1)
    gate, started = blocking(h)
    client = await h.ws()
    session = h.sio.eio.get(client.eio_sid)
    for i in range(1 + BACKLOG_FACTOR + 5):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session._held is not None)
    await client.close()
    await h.until(lambda: session.closed)
    assert session._held is None and session._held_bytes == 0 and session._backlog is None
    gate.set()
    await asyncio.sleep(0.1)
    assert started == [0]
    assert h.reasons(client.sid) == ["transport close"]
    await h.assert_unharmed()


async def test_a_pause_that_never_ends_closes_the_session(make_server, blocking):
    """The leniency is bounded: a client whose handlers never drain (here they wait on a gate; in an
    app, on that same client's acks, which can't be read while reading is paused) cannot keep its
    session forever. After two heartbeat periods of pause it is closed as a slow consumer, and its
    handlers' memory with it."""
    interval, timeout = 0.2, 0.3
    h = await make_server(
        max_inflight=1, ping_interval=interval, ping_timeout=timeout, max_http_buffer_size=500
    )
    _gate, _started = blocking(h)
    client = await h.ws()
    session = h.sio.eio.get(client.eio_sid)
    for i in range(1 + BACKLOG_FACTOR + 40):
        await client.ws.send_str(f'42["block",{i}]')
    await h.until(lambda: session._inflight_waiter is not None)
    paused = asyncio.get_running_loop().time()
    async with client.answering_pings():
        await h.until(lambda: session.closed, timeout=10)
    assert asyncio.get_running_loop().time() - paused >= 2 * (interval + timeout) - 0.05
    assert session.close_reason == "slow consumer"
    h.assert_no_tracebacks()
