"""Documented behaviours no other test pinned down: ``always_connect=True``, ``connect_timeout``
after a client leaves its last namespace, no NOOP to a GET before the upgrade probe, the
rate-limited parse-error warning, and ``emit(callback=)`` to several clients.

Timing assertions here are lower bounds the server cannot beat (a stall on a busy machine only
makes things later) plus generous upper bounds, so a slow machine does not fail them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time

import orjson
import pytest

from aiosio import exceptions

from .conftest import STEP

pytestmark = pytest.mark.timeout(30)


# -- always_connect=True ---------------------------------------------------------------------------


async def test_always_connect_replies_before_the_connect_handler_finishes(make_server):
    """The CONNECT reply goes out at once; the client's events are handled and the server's emits
    delivered while the ``connect`` handler still runs."""
    h = await make_server(always_connect=True)
    gate = asyncio.Event()
    finished = []

    async def connect(sid, environ, auth=None):
        await h.sio.emit("from_connect", 1, to=sid)
        await gate.wait()
        finished.append(sid)

    h.sio.on("connect", connect)
    client = await h.ws(connect=False)
    await client.send("40")
    reply = await client.expect("40{")
    client.sid = orjson.loads(reply[2:])["sid"]
    assert finished == []
    assert await client.expect('42["from_connect"') == '42["from_connect",1]'
    await client.echo("while the handler runs")
    gate.set()
    await h.until(lambda: finished == [client.sid])
    await client.echo("after")
    h.assert_no_tracebacks()


@pytest.mark.parametrize("refusal", ["false", "exception"])
async def test_always_connect_refusal_is_a_disconnect_not_a_connect_error(make_server, refusal):
    """A connect handler that refuses after the reply went out: the client gets DISCONNECT (``41``),
    never CONNECT_ERROR; its events are no longer handled; the disconnect handler does not run (it
    never counted as connected); the Engine.IO connection stays usable."""
    h = await make_server(always_connect=True)
    gate = asyncio.Event()

    async def connect(sid, environ, auth=None):
        await gate.wait()
        if refusal == "false":
            return False
        raise exceptions.ConnectionRefusedError("go away")

    h.sio.on("connect", connect)
    client = await h.ws(connect=False)
    await client.send("40")
    sid = orjson.loads((await client.expect("40{"))[2:])["sid"]
    gate.set()
    seen = []
    async with asyncio.timeout(STEP):
        while not seen or not seen[-1].startswith("41"):
            seen.append(await client.recv())
    assert not any(m.startswith("44") for m in seen), seen
    await client.send('42["late"]')
    await asyncio.sleep(0.1)
    assert h.events_of(sid) == []
    assert h.disconnects == []
    assert sid not in h.sio._sockets
    assert not h.sio.eio.get(client.eio_sid).closed
    h.assert_no_tracebacks()


# -- connect_timeout -------------------------------------------------------------------------------


async def _closed_answering_pings(client, timeout: float) -> list[str]:
    """Messages until the server ends the WebSocket, answering PINGs meanwhile (the timeout is
    checked when a PING is due, and the next one is only sent once the last was answered)."""
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            try:
                seen.append(await client.recv(timeout=timeout))
            except ConnectionError:
                return seen


async def test_connect_timeout_counts_from_leaving_the_last_namespace(make_server):
    """A client that stays in "/" past ``connect_timeout`` and then leaves has the whole timeout
    again before it is closed, not just until the next PING."""
    connect_timeout, interval = 0.6, 0.15
    h = await make_server(connect_timeout=connect_timeout, ping_interval=interval, ping_timeout=5)
    client = await h.ws()
    async with client.answering_pings():
        await asyncio.sleep(connect_timeout + 2 * interval)  # joined for longer than the timeout
    assert h.sio.eio.get(client.eio_sid) is not None
    await client.send("41")
    left = time.monotonic()
    seen = await _closed_answering_pings(client, connect_timeout + 5)
    after = time.monotonic() - left
    assert "1" in seen  # closed by the server, with CLOSE
    assert after >= connect_timeout, f"closed {after:.2f} s after leaving, before connect_timeout"
    assert after <= connect_timeout + interval + 3.0
    h.assert_no_tracebacks()


async def test_connect_timeout_waits_while_any_namespace_is_joined(make_server):
    """Leaving one namespace of two starts nothing; leaving the last one does."""
    connect_timeout, interval = 0.4, 0.1
    h = await make_server(
        connect_timeout=connect_timeout, ping_interval=interval, ping_timeout=5, namespaces="*"
    )
    client = await h.ws()
    await client.send("40/a,")
    await client.expect("40/a,")
    await client.send("41")
    async with client.answering_pings():
        await asyncio.sleep(connect_timeout + 3 * interval)
    assert h.sio.eio.get(client.eio_sid) is not None, "closed while still in /a"
    await client.send("41/a,")
    left = time.monotonic()
    seen = await _closed_answering_pings(client, connect_timeout + 5)
    assert time.monotonic() - left >= connect_timeout
    assert "1" in seen
    h.assert_no_tracebacks()


# -- no NOOP before the probe ----------------------------------------------------------------------


async def test_get_during_an_unprobed_upgrade_waits_for_data_not_a_noop(server):
    """While a WebSocket is open for the session but has not sent its probe, a GET long-polls as
    usual (an instant NOOP would have the client poll in a busy loop); after the probe a GET is
    ended at once with NOOP, so the client can pause polling."""
    h = server
    client = await h.polling()
    session = h.sio.eio.get(client.eio_sid)
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await h.until(lambda: session.upgrading)
    get = asyncio.ensure_future(client.packets())
    await asyncio.sleep(0.3)
    assert not get.done(), f"the GET was answered at once: {get.result()}"
    await h.sio.emit("data", 1, to=client.sid)
    assert await get == ['42["data",1]']
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    started = time.monotonic()
    assert await client.packets() == ["6"]
    assert time.monotonic() - started < 2.0
    await ws.close()
    h.assert_no_tracebacks()


# -- the parse-error warning -----------------------------------------------------------------------


async def test_parse_error_warning_is_rate_limited_and_counts_what_it_suppressed(make_server, caplog):
    """One WARNING line per protocol violation at most once a second, without a traceback; the next
    line says how many it left out, so every violation is accounted for."""
    h = await make_server()
    bad = 12

    async def violate() -> None:
        client = await h.ws()
        await client.send('42["unterminated')
        await client.closed()

    for _ in range(bad):
        await violate()
    # Then, more than a second after the first line, one more: its line reports the others.
    await asyncio.sleep(1.05)
    await violate()
    records = [r for r in caplog.records if r.name == "aiosio.engine" and "parse error" in r.getMessage()]
    assert records, "nothing was logged"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)
    suppressed = []
    details = set()
    for r in records:
        match = re.fullmatch(r"closing \S+: parse error: (.+?)(?: \(\+(\d+) more\))?", r.getMessage())
        assert match, r.getMessage()
        details.add(match.group(1))
        suppressed.append(int(match.group(2) or 0))
    assert " more)" not in records[0].getMessage(), "the first line has nothing to report"
    assert len(details) == 1, details  # the same violation each time: the same words
    assert len(records) + sum(suppressed) == bad + 1, [r.getMessage() for r in records]
    gaps = [b.created - a.created for a, b in itertools.pairwise(records)]
    assert all(gap >= 0.99 for gap in gaps), gaps
    assert len(records) >= 2 and suppressed[-1] > 0
    h.assert_no_tracebacks()


# -- emit(callback=) to several clients ------------------------------------------------------------


async def test_emit_callback_to_a_room_is_called_once_per_client_with_its_answer(server):
    h = server
    clients = [await h.ws() for _ in range(3)]
    silent = await h.ws()  # in the room, never answers
    outsider = await h.ws()  # not in the room
    for c in [*clients, silent]:
        await h.sio.enter_room(c.sid, "r")
    calls: list[tuple[object, ...]] = []
    await h.sio.emit("q", "who?", to="r", callback=lambda *args: calls.append(args))
    ids = set()
    for c in clients:
        message = await c.expect("42")
        match = re.match(r'^42(\d+)\["q","who\?"\]$', message)
        assert match, message
        ids.add(match.group(1))
        await c.send(f"43{match.group(1)}[{orjson.dumps(c.sid).decode()}]")
        await c.send(f'43{match.group(1)}["again"]')  # a repeated ack is ignored
    await silent.expect("42")
    await h.until(lambda: len(calls) == len(clients))
    await asyncio.sleep(0.1)
    assert sorted(calls) == sorted((c.sid,) for c in clients)
    await silent.close()  # leaving without an answer: the callback is not called for it
    await h.until(lambda: h.reasons(silent.sid))
    await outsider.echo("untouched")
    assert len(calls) == len(clients)
    await h.assert_unharmed(*clients)
