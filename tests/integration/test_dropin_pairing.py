"""Every accepted connect is paired with exactly one disconnect handler call, whatever the timing.

A connect handler that accepts (returns anything but False, raises nothing) gets exactly one
disconnect call for that sid, after it has returned, even if the client left while it ran; a
connect handler that refuses gets none. Peers: raw Engine.IO over aiohttp WebSockets (exact timing)
and python-socketio's AsyncClient.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio  # python-socketio, as the client peer only

import aiosio

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0


class Recorder:
    """A server whose async connect handler waits on ``gate``; it records every handler call."""

    def __init__(self, verdict: Any = None, **server_kwargs: Any) -> None:
        self.sio = aiosio.AsyncServer(**server_kwargs)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.calls: list[tuple[str, str, Any]] = []
        self.changed = asyncio.Event()
        self.verdict = verdict

        @self.sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> Any:
            self.calls.append(("connect", sid, None))
            self.entered.set()
            await self.gate.wait()
            self.calls.append(("connect-returned", sid, None))
            self.changed.set()
            if isinstance(self.verdict, BaseException):
                raise self.verdict
            return self.verdict

        @self.sio.event
        async def disconnect(sid: str, reason: str) -> None:
            await asyncio.sleep(0)
            self.calls.append(("disconnect", sid, reason))
            self.changed.set()

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def disconnects(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] == "disconnect"]

    async def settle(self) -> None:
        """Let every pending handler finish (a few loop turns and a short pause)."""
        for _ in range(5):
            await asyncio.sleep(0.05)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _open(http: aiohttp.ClientSession, endpoint: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0{")
    return ws


async def _next_text(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if msg.data != "2":  # skip PINGs
            return str(msg.data)


@pytest.mark.parametrize("how", ["close-websocket", "socketio-disconnect", "engineio-close"])
async def test_client_leaving_mid_connect_handler_still_gets_its_disconnect(
    serve: Any, http: aiohttp.ClientSession, how: str
) -> None:
    """The connect handler accepts after the client has gone: the disconnect handler runs once,
    after the connect handler returned, with the reason the client left for."""
    rec = Recorder(verdict=True)
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    if how == "close-websocket":
        await ws.close()
        expected = aiosio.AsyncServer.reason.TRANSPORT_CLOSE
    elif how == "socketio-disconnect":
        await ws.send_str("41")
        expected = aiosio.AsyncServer.reason.CLIENT_DISCONNECT
    else:
        await ws.send_str("1")  # Engine.IO CLOSE
        expected = aiosio.AsyncServer.reason.CLIENT_DISCONNECT
    await rec.settle()
    assert rec.disconnects() == []  # not while the connect handler is still running
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: len(rec.disconnects()) == 1), WAIT)
    await rec.settle()
    sid = rec.calls[0][1]
    assert rec.calls == [
        ("connect", sid, None),
        ("connect-returned", sid, None),
        ("disconnect", sid, expected),
    ]
    # Nothing is left behind: the sid is forgotten once its disconnect handler finished.
    assert rec.sio.manager.eio_sid_from_sid(sid, "/") is None
    assert list(rec.sio.manager.get_participants("/", None)) == []
    if not ws.closed:
        await ws.close()


@pytest.mark.parametrize(
    "verdict",
    [
        pytest.param(False, id="false"),
        pytest.param(aiosio.exceptions.ConnectionRefusedError("no"), id="aiosio-refused"),
        pytest.param(ConnectionRefusedError(), id="builtin-refused"),
        pytest.param(
            RuntimeError("boom"),
            id="handler-error",
            marks=pytest.mark.allow_server_errors(r"aiosio\.server ERROR: connect handler failed"),
        ),
    ],
)
async def test_refusal_after_the_client_left_gets_no_disconnect(
    serve: Any, http: aiohttp.ClientSession, verdict: Any
) -> None:
    """A connect handler that refuses never gets a disconnect call, even when the client left first."""
    rec = Recorder(verdict=verdict)
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    await ws.close()
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: "connect-returned" in rec.names()), WAIT)
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned"]
    assert list(rec.sio.manager.get_participants("/", None)) == []


@pytest.mark.parametrize("verdict", [False, ConnectionRefusedError()], ids=["false", "builtin-refused"])
async def test_refused_connect_then_leaving_gets_no_disconnect(
    serve: Any, http: aiohttp.ClientSession, verdict: Any
) -> None:
    """A refused client that is still there, and leaves afterwards, gets no disconnect call either."""
    rec = Recorder(verdict=verdict)
    rec.gate.set()
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    assert (await _next_text(ws)).startswith("44")
    await ws.close()
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned"]


async def test_accepted_connect_then_leaving_gets_one_disconnect(
    serve: Any, http: aiohttp.ClientSession
) -> None:
    """The ordinary timing: accepted, then the client leaves: one disconnect."""
    rec = Recorder(verdict=None)
    rec.gate.set()
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    assert (await _next_text(ws)).startswith("40{")
    await ws.send_str("41")
    await ws.close()
    await asyncio.wait_for(_until(lambda: bool(rec.disconnects())), WAIT)
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned", "disconnect"]
    assert rec.disconnects()[0][2] == aiosio.AsyncServer.reason.CLIENT_DISCONNECT


async def test_always_connect_waits_for_the_connect_handler(serve: Any, http: aiohttp.ClientSession) -> None:
    """With always_connect the client is told CONNECT at once; if it leaves mid-handler, the
    disconnect handler still runs once, and only after the connect handler returned."""
    rec = Recorder(verdict=True, always_connect=True)
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    assert (await _next_text(ws)).startswith("40{")
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    await ws.close()
    await rec.settle()
    assert rec.disconnects() == []
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: bool(rec.disconnects())), WAIT)
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned", "disconnect"]


async def test_always_connect_refusal_gets_no_disconnect(serve: Any, http: aiohttp.ClientSession) -> None:
    """always_connect and a refusing handler: the client gets DISCONNECT, the app no disconnect call."""
    rec = Recorder(verdict=False, always_connect=True)
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    assert (await _next_text(ws)).startswith("40{")
    rec.gate.set()
    assert (await _next_text(ws)).startswith("41")
    await ws.close()
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned"]


async def test_server_disconnect_during_connect_handler(serve: Any, http: aiohttp.ClientSession) -> None:
    """``sio.disconnect(sid)`` while the connect handler runs refuses the client at once; the
    handler then accepts, so its disconnect handler runs once (reason ``server disconnect``)."""
    rec = Recorder(verdict=True)
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    sid = rec.calls[0][1]
    await rec.sio.disconnect(sid)
    assert (await _next_text(ws)).startswith("44")
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: bool(rec.disconnects())), WAIT)
    await rec.settle()
    assert rec.calls[1:] == [("connect-returned", sid, None), ("disconnect", sid, "server disconnect")]
    await ws.close()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
async def test_python_socketio_client_gone_before_accept(serve: Any, transports: list[str]) -> None:
    """python-socketio's AsyncClient connects without waiting and disconnects while the server's
    connect handler runs: the server's disconnect handler still runs exactly once."""
    rec = Recorder(verdict=None)
    handle = await serve(rec.sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=transports, wait=False)
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    # python-engineio's client loses its CLOSE if disconnect() comes before its write loop first
    # waits on its queue (seen on Python 3.12 with polling): wait until its read loop's long-poll GET
    # is here, which it starts after the write loop.
    await asyncio.wait_for(_until(lambda: all(s.writable for s in rec.sio.eio.sockets.values())), WAIT)
    await client.disconnect()
    await asyncio.wait_for(_until(lambda: not rec.sio.eio.sockets), WAIT)
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: bool(rec.disconnects())), WAIT)
    await rec.settle()
    assert rec.names() == ["connect", "connect-returned", "disconnect"]
    assert rec.disconnects()[0][2] in {"client disconnect", "transport close"}


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_connect_handler_that_never_started_gets_no_disconnect(
    serve: Any, http: aiohttp.ClientSession
) -> None:
    """With always_connect and one handler slot, a second namespace's connect handler waits in line;
    the client leaves before it starts: that namespace gets neither call, the first gets both."""
    rec = Recorder(verdict=True, always_connect=True, max_inflight=1)
    for event in ("connect", "disconnect"):
        rec.sio.on(event, rec.sio.handlers["/"][event], namespace="/b")
    handle = await serve(rec.sio)
    ws = await _open(http, handle.endpoint)
    await ws.send_str("40")
    assert (await _next_text(ws)).startswith("40{")
    await asyncio.wait_for(rec.entered.wait(), WAIT)
    await ws.send_str("40/b,")
    assert (await _next_text(ws)).startswith("40/b,{")  # told at once (always_connect)
    await ws.close()
    await rec.settle()
    rec.gate.set()
    await asyncio.wait_for(_until(lambda: bool(rec.disconnects())), WAIT)
    await rec.settle()
    sid = rec.calls[0][1]
    assert rec.calls == [
        ("connect", sid, None),
        ("connect-returned", sid, None),
        ("disconnect", sid, "transport close"),
    ]
    assert list(rec.sio.manager.get_participants("/b", None)) == []
