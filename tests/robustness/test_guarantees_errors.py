"""Handlers that raise: exactly what is logged, what the peer gets, and that the connection survives.

Server side (``aiosio.server`` logger), one ERROR record with the exception attached each time:

- an event handler (plain or async): ``event handler failed``; a client that asked for an ack gets
  none; the connection and its other handlers go on;
- a ``connect`` handler: ``connect handler failed``; the client gets CONNECT_ERROR
  ``{"message": "Connection rejected by server"}``; its Engine.IO connection stays open, so it can
  try again;
- an ``emit(callback=)`` callback (plain or async): ``ack callback failed``.

Client side (``aiosio.client`` logger), one ERROR record with the exception attached: an event
handler (``Error in the handler for event 'x'``; the server's ``call()`` gets no answer), an ack
callback (``Error in the acknowledgement callback of 'x'``) and a ``connect`` handler (``Error in the
'connect' handler of namespace /``); the client stays connected.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

import aiosio
from aiosio import exceptions

from .conftest import STEP

pytestmark = pytest.mark.timeout(30)


class Boom(Exception):
    """The exception the handlers under test raise."""


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def _assert_one_error(caplog: pytest.LogCaptureFixture, logger: str, message: str) -> None:
    """Exactly one ERROR record (or worse) was logged: by ``logger``, saying ``message``, with the
    :class:`Boom` attached (so the traceback is in the log)."""
    errors = _errors(caplog)
    assert [(r.name, r.levelname, r.getMessage()) for r in errors] == [(logger, "ERROR", message)]
    exc_info = errors[0].exc_info
    assert exc_info is not None and exc_info[0] is Boom, exc_info
    assert "Traceback" in logging.Formatter().format(errors[0])


async def _no_ack(client, ack_id: int, window: float = 0.3) -> None:
    """No ACK with ``ack_id`` arrives within ``window`` seconds."""
    try:
        async with asyncio.timeout(window):
            while True:
                msg = await client.recv()
                assert not (isinstance(msg, str) and msg.startswith(f"43{ack_id}[")), msg
    except TimeoutError:
        pass


# -- server side -----------------------------------------------------------------------------------


@pytest.mark.allow_server_errors(r"aiosio\.server ERROR: event handler failed \[Boom")
@pytest.mark.parametrize("kind", ["plain", "async-before-await", "async-after-await"])
async def test_event_handler_that_raises(make_server, caplog, kind):
    h = await make_server()
    h.tolerated = frozenset({"aiosio.server"})  # checked exactly below
    if kind == "plain":

        def fail(sid):
            raise Boom("plain")

    elif kind == "async-before-await":

        async def fail(sid):
            raise Boom("async")

    else:

        async def fail(sid):
            await asyncio.sleep(0.01)
            raise Boom("async")

    h.sio.on("fail", fail)
    client = await h.ws()
    await client.send('4251["fail"]')
    await _no_ack(client, 51)
    _assert_one_error(caplog, "aiosio.server", "event handler failed")
    # The connection survives: the same client's next events are handled and acked.
    await client.echo("after")
    assert h.reasons(client.sid) == []
    await client.send('4252["fail"]')  # and a second failure is logged once more, nothing else
    await _no_ack(client, 52)
    assert len(_errors(caplog)) == 2
    await client.echo("still")


@pytest.mark.allow_server_errors(r"aiosio\.server ERROR: connect handler failed \[Boom")
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_connect_handler_that_raises(make_server, caplog, kind):
    h = await make_server()
    h.tolerated = frozenset({"aiosio.server"})
    calls = []
    if kind == "plain":

        def connect(sid, environ, auth=None):
            calls.append(sid)
            if len(calls) == 1:
                raise Boom("no")

    else:

        async def connect(sid, environ, auth=None):
            calls.append(sid)
            await asyncio.sleep(0)
            if len(calls) == 1:
                raise Boom("no")

    h.sio.on("connect", connect)
    client = await h.ws(connect=False)
    await client.send("40")
    error = await client.expect("44")
    assert orjson.loads(error[2:]) == {"message": "Connection rejected by server"}
    _assert_one_error(caplog, "aiosio.server", "connect handler failed")
    # The Engine.IO connection is still open: the client can try again, and this time it is let in.
    await client.send("40")
    reply = await client.expect("40{")
    client.sid = orjson.loads(reply[2:])["sid"]
    await client.echo("let in")
    assert len(calls) == 2 and len(_errors(caplog)) == 1


@pytest.mark.allow_server_errors(r"aiosio\.server ERROR: ack callback failed \[Boom")
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_emit_callback_that_raises(make_server, caplog, kind):
    h = await make_server()
    h.tolerated = frozenset({"aiosio.server"})
    if kind == "plain":

        def callback(*args):
            raise Boom("callback")

    else:

        async def callback(*args):
            await asyncio.sleep(0)
            raise Boom("callback")

    client = await h.ws()
    await h.sio.emit("question", 1, to=client.sid, callback=callback)
    message = await client.expect("42")
    ack_id = message[2 : message.index("[")]
    await client.send(f"43{ack_id}[2]")
    await h.until(lambda: _errors(caplog))
    await asyncio.sleep(0.05)
    _assert_one_error(caplog, "aiosio.server", "ack callback failed")
    await client.echo("after")
    assert h.reasons(client.sid) == []


# -- client side -----------------------------------------------------------------------------------


@pytest.mark.allow_server_errors(r"aiosio\.client ERROR: Error in the handler for event 'question' \[Boom")
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_client_event_handler_that_raises(server, caplog, kind):
    h = server
    h.tolerated = frozenset({"aiosio.client"})
    client = aiosio.AsyncClient(reconnection=False)
    if kind == "plain":

        def question(data):
            raise Boom("client")

    else:

        async def question(data):
            await asyncio.sleep(0)
            raise Boom("client")

    client.on("question", question)
    await client.connect(h.origin, transports=["websocket"], wait_timeout=STEP)
    try:
        await h.until(lambda: h.connects)
        with pytest.raises(exceptions.TimeoutError):
            await h.sio.call("question", 1, to=h.connects[0], timeout=0.5)  # no ack comes back
        await h.until(lambda: _errors(caplog))
        _assert_one_error(caplog, "aiosio.client", "Error in the handler for event 'question'")
        assert client.connected
        assert await client.call("echo", "after", timeout=STEP) == "after"
    finally:
        await client.disconnect()


@pytest.mark.allow_server_errors(r"aiosio\.client ERROR: Error in the acknowledgement callback .*\[Boom")
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_client_ack_callback_that_raises(server, caplog, kind):
    h = server
    h.tolerated = frozenset({"aiosio.client"})
    client = aiosio.AsyncClient(reconnection=False)
    if kind == "plain":

        def callback(*args):
            raise Boom("client")

    else:

        async def callback(*args):
            await asyncio.sleep(0)
            raise Boom("client")

    await client.connect(h.origin, transports=["websocket"], wait_timeout=STEP)
    try:
        await client.emit("echo", "x", callback=callback)
        await h.until(lambda: _errors(caplog))
        await asyncio.sleep(0.05)
        _assert_one_error(caplog, "aiosio.client", "Error in the acknowledgement callback of 'echo'")
        assert client.connected
        assert await client.call("echo", "after", timeout=STEP) == "after"
    finally:
        await client.disconnect()


@pytest.mark.allow_server_errors(r"aiosio\.client ERROR: Error in the 'connect' handler .*\[Boom")
async def test_client_connect_handler_that_raises(server, caplog):
    h = server
    h.tolerated = frozenset({"aiosio.client"})
    client = aiosio.AsyncClient(reconnection=False)

    @client.event
    async def connect():
        raise Boom("client")

    await client.connect(h.origin, transports=["websocket"], wait_timeout=STEP)
    try:
        await h.until(lambda: _errors(caplog))
        _assert_one_error(caplog, "aiosio.client", "Error in the 'connect' handler of namespace /")
        assert client.connected
        assert await client.call("echo", "after", timeout=STEP) == "after"
    finally:
        await client.disconnect()
