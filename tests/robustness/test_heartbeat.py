"""The Engine.IO v4 heartbeat: the server PINGs, a client that does not PONG is closed in time.

With ``ping_interval=0.2`` and ``ping_timeout=0.2`` a silent client is gone about 0.4 s after the
handshake (first PING at 0.2 s, no PONG by 0.4 s); a client that answers stays connected.

The client and the server share one event loop here, so a stall of that loop (a busy CI machine)
delays the client's PONG as much as anything: tests in which a client must stay connected give it a
``ping_timeout`` well above such a stall (``STALL_SAFE``), and time bounds are a lower bound the server
cannot beat plus a generous upper one (``LATE``).
"""

from __future__ import annotations

import asyncio
import time

import pytest

pytestmark = pytest.mark.timeout(15)

INTERVAL = 0.2
TIMEOUT = 0.2
# Generous upper bound: the machine is shared and may be busy.
LATE = 3.0
#: A ping_timeout a client that answers survives any plausible stall with.
STALL_SAFE = 1.0


async def test_websocket_client_ignoring_pings_is_closed_with_ping_timeout(make_server):
    timeout = STALL_SAFE  # the bystander must survive stalls
    h = await make_server(ping_interval=INTERVAL, ping_timeout=timeout)
    bystander = await h.ws()
    async with bystander.answering_pings():
        started = time.monotonic()
        client = await h.ws(autopong=False)
        assert await client.recv() == "2"
        await h.until(lambda: h.reasons(client.sid), timeout=LATE + timeout)
        elapsed = time.monotonic() - started
        assert h.reasons(client.sid) == ["ping timeout"]
        assert INTERVAL + timeout <= elapsed <= INTERVAL + timeout + LATE, elapsed
        _seen, code = await client.closed()
        assert code is not None
        await asyncio.sleep(2 * INTERVAL)  # the answering bystander outlives it
    assert h.reasons(bystander.sid) == []
    await h.assert_unharmed(bystander)


async def test_polling_client_that_never_polls_is_closed_with_ping_timeout(make_server):
    h = await make_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    started = time.monotonic()
    client = await h.polling()
    await h.until(lambda: h.reasons(client.sid))
    elapsed = time.monotonic() - started
    assert h.reasons(client.sid) == ["ping timeout"]
    assert INTERVAL + TIMEOUT <= elapsed <= LATE, elapsed
    await client.assert_dead()
    h.assert_no_tracebacks()


async def test_polling_client_that_polls_but_never_pongs_is_closed(make_server):
    h = await make_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    client = await h.polling()
    assert "2" in await client.packets()
    status, body = await client.get()  # waits through the PONG deadline
    assert status == 200 and body in ("6", "1"), body
    assert h.reasons(client.sid) == ["ping timeout"]
    await client.assert_dead()
    h.assert_no_tracebacks()


async def test_clients_that_answer_stay_connected(make_server):
    h = await make_server(ping_interval=INTERVAL, ping_timeout=STALL_SAFE)
    ws_client = await h.ws()
    poll_client = await h.polling()
    pings = 0

    async def poll_and_pong():
        nonlocal pings
        while True:
            for packet in await poll_client.packets():
                if packet == "2":
                    pings += 1
                    assert await poll_client.post("3") == (200, "ok")

    poller = asyncio.ensure_future(poll_and_pong())
    try:
        async with ws_client.answering_pings():
            await asyncio.sleep(6 * INTERVAL)
    finally:
        poller.cancel()
    assert pings >= 3
    assert h.disconnects == []
    await h.assert_unharmed(ws_client)


async def test_pong_at_the_last_moment_is_not_too_late(make_server):
    h = await make_server(ping_interval=INTERVAL, ping_timeout=0.5)
    client = await h.ws(autopong=False)
    assert await client.recv() == "2"
    session = h.sio.eio.get(client.eio_sid)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, session.heartbeat.deadline - loop.time() - 0.05))
    await client.send("3")  # 50 ms before the deadline (or, after a stall, just past it)
    await client.echo("still here")
    assert h.reasons(client.sid) == []
    h.assert_no_tracebacks()


async def test_a_loop_stall_past_the_pong_deadline_does_not_time_out_a_client_that_answered(
    make_server,
):
    """The PONG reached the server's socket in time, but the loop was blocked (a busy machine, a
    handler that blocked) past the PONG deadline before anything could read it: the heartbeat looks
    again once the pending reads have run, rather than time out a client that did answer."""
    h = await make_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    client = await h.ws(autopong=False)
    assert await client.recv() == "2"
    await client.send("3")  # written to the socket now ...
    time.sleep(TIMEOUT + 0.15)  # noqa: ASYNC251 ... and the whole loop stalls past the PONG deadline
    await client.echo("still here")
    assert h.reasons(client.sid) == []
    h.assert_no_tracebacks()


async def test_a_loop_stall_does_not_save_a_client_that_did_not_answer(make_server):
    h = await make_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    client = await h.ws(autopong=False)
    assert await client.recv() == "2"
    time.sleep(TIMEOUT + 0.15)  # noqa: ASYNC251 (the stall is the test)
    await h.until(lambda: h.reasons(client.sid))
    assert h.reasons(client.sid) == ["ping timeout"]
    h.assert_no_tracebacks()


@pytest.mark.parametrize(
    ("interval", "announced"),
    [(0.3, 300), (0.25, 250), (1.5, 1500), (0.01, 10), (25, 25000), ((0.3, 5), 300)],
    ids=["0.3", "0.25", "1.5", "0.01", "25", "tuple"],
)
async def test_fractional_ping_interval_is_announced_exactly(make_server, interval, announced):
    h = await make_server(ping_interval=interval, ping_timeout=0.45)
    polling = await h.polling(connect=False)
    ws = await h.ws(connect=False)
    for opened in (polling.open, ws.open):
        assert opened["pingInterval"] == announced
        assert type(opened["pingInterval"]) is int
        assert opened["pingTimeout"] == 450


async def test_fractional_interval_is_also_kept(make_server):
    h = await make_server(ping_interval=0.3, ping_timeout=5)
    started = time.monotonic()
    client = await h.ws(autopong=False)
    assert await client.recv() == "2"
    assert 0.25 <= time.monotonic() - started <= LATE
    h.assert_no_tracebacks()
