"""Engine behaviours that mutation testing (scripts/mutation) showed no test would notice breaking.

Each test names what it pins down; docs/testing.md lists the mutants they kill.
"""

from __future__ import annotations

import asyncio
import time

import pytest

pytestmark = pytest.mark.timeout(30)

LATE = 3.0


async def test_pings_follow_ping_interval_when_ping_timeout_is_longer(make_server):
    """With ``ping_timeout`` > ``ping_interval`` the timer waits for the PONG deadline; a PONG must
    bring the next PING forward to ``ping_interval`` after it, not leave it at the old deadline."""
    interval = 0.1
    h = await make_server(ping_interval=interval, ping_timeout=5.0)
    client = await h.ws(autopong=False)
    pings = 0
    started = time.monotonic()
    async with asyncio.timeout(10):
        while pings < 5:
            assert await client.recv() == "2"
            pings += 1
            await client.send("3")
    # Five PINGs at one per interval take about 0.5 s; at one per ping_timeout they would take 25 s.
    assert time.monotonic() - started < 5 * interval + LATE
    assert h.reasons(client.sid) == []
    h.assert_no_tracebacks()


async def test_client_that_answers_then_goes_silent_is_closed(make_server):
    """The default shape (``ping_interval`` > ``ping_timeout``): after a PONG the timer, armed for
    the old PONG deadline, wakes early and must re-arm for the next PING, or a client that stops
    answering later would never be timed out."""
    interval, timeout = 0.3, 0.2
    h = await make_server(ping_interval=interval, ping_timeout=timeout)
    client = await h.ws(autopong=False)
    assert await client.recv() == "2"
    await client.send("3")
    answered = time.monotonic()
    await h.until(lambda: h.reasons(client.sid), timeout=interval + timeout + LATE)
    assert h.reasons(client.sid) == ["ping timeout"]
    assert time.monotonic() - answered >= interval + timeout
    seen, _code = await client.closed()
    assert "1" not in seen, "a ping timeout is not announced with CLOSE (the client is gone)"
    h.assert_no_tracebacks()


async def test_request_after_the_pong_deadline_finds_the_session_timed_out(make_server):
    """A request that arrives after the PONG deadline but before the timer has run (a busy loop)
    ends the session there and then, with reason ``ping timeout`` and no CLOSE packet."""
    h = await make_server(ping_interval=20, ping_timeout=20)
    client = await h.polling()
    session = h.sio.eio.get(client.eio_sid)
    # As if the PING had gone out and its PONG deadline just passed, the timer not run yet.
    session.heartbeat.awaiting_pong = True
    session.heartbeat.deadline = asyncio.get_running_loop().time() - 0.01
    await client.assert_dead()
    assert h.reasons(client.sid) == ["ping timeout"]
    assert session.closed and session.close_reason == "ping timeout"
    h.assert_no_tracebacks()


async def test_polling_client_that_keeps_up_is_never_a_slow_consumer(make_server):
    """The queue's byte count goes down as GETs take packets: far more than ``max_queue_bytes``
    may pass through a client that keeps polling."""
    cap = 8 * 1024
    h = await make_server(max_queue_bytes=cap)
    client = await h.polling()
    pad = "x" * 1024
    for i in range(4 * cap // len(pad)):
        await h.sio.emit("e", {"i": i, "pad": pad}, to=client.sid)
        packets = await client.packets()
        assert any(p.startswith('42["e"') for p in packets), packets
    assert h.reasons(client.sid) == []
    session = h.sio.eio.get(client.eio_sid)
    assert session._queue_bytes == 0 and session._queue == []
    h.assert_no_tracebacks()


async def test_after_an_aborted_upgrade_gets_long_poll_again(make_server):
    """Once probed, a GET is ended at once with NOOP (the client pauses polling); if the upgrade then
    fails, GETs must wait for data again, or the client would poll in a busy loop."""
    h = await make_server(upgrade_timeout=5)
    client = await h.polling()
    session = h.sio.eio.get(client.eio_sid)
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    assert await client.packets() == ["6"]
    await ws.send_str("garbage")  # the upgrade fails
    await h.until(lambda: not session.upgrading)
    get = asyncio.ensure_future(client.packets())
    await asyncio.sleep(0.3)
    assert not get.done(), f"answered at once after the aborted upgrade: {get.result()}"
    await h.sio.emit("data", 1, to=client.sid)
    assert await get == ['42["data",1]']
    await ws.close()
    h.assert_no_tracebacks()


async def test_farewell_of_a_closed_polling_session_is_dropped_after_ping_timeout(make_server):
    """A polling session the server closes between two GETs leaves its CLOSE for the next GET; the
    server keeps that farewell for ``ping_timeout`` only, then the sid is simply unknown."""
    timeout = 0.3
    h = await make_server(ping_interval=20, ping_timeout=timeout)
    soon, late = await h.polling(), await h.polling()
    for client in (soon, late):
        h.sio.eio.get(client.eio_sid).close("server disconnect")
    assert await soon.get() == (200, "1")
    await asyncio.sleep(timeout + 0.2)
    await late.assert_dead()
    h.assert_no_tracebacks()


async def test_client_close_ends_its_waiting_get_with_noop(server):
    """A polling client that closes (Engine.IO CLOSE in a POST) while its GET waits: the GET ends with
    NOOP, not CLOSE (the client left; nothing to tell it), and the sid is gone after."""
    client = await server.polling()
    session = server.sio.eio.get(client.eio_sid)
    get = asyncio.ensure_future(client.get())
    await server.until(lambda: session._poll is not None)
    assert await client.post("1") == (200, "ok")
    assert await get == (200, "6")
    assert server.reasons(client.sid) == ["client disconnect"]
    await client.assert_dead()
    server.assert_no_tracebacks()
