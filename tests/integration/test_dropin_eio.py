"""``sio.eio``: python-engineio's ``AsyncServer`` surface under a Socket.IO server, as apps use it
(python-socketio's AsyncClient as the peer), and the same surface on ``aiosio.engineio.AsyncServer``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio  # python-socketio, as the client peer only
from aiohttp import web

import aiosio
import aiosio.engineio

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0
TRANSPORTS: dict[str, list[str] | None] = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": None,
}


def future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


class App:
    """A server recording connects and disconnects (with reasons)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sio = aiosio.AsyncServer(**kwargs)
        self.connected: asyncio.Future[str] = future()
        self.disconnected: asyncio.Future[tuple[str, str]] = future()

        @self.sio.event
        async def connect(sid: str, environ: dict[str, Any]) -> None:
            self.connected.set_result(sid)

        @self.sio.event
        async def disconnect(sid: str, reason: str) -> None:
            self.disconnected.set_result((sid, reason))


@pytest.mark.parametrize("mode", list(TRANSPORTS))
async def test_eio_disconnect_closes_the_clients_transport(serve: Any, mode: str) -> None:
    """``await sio.eio.disconnect(sio.manager.eio_sid_from_sid(sid, '/'))`` closes the transport: the
    server's disconnect handler runs with ``server disconnect`` and the client sees the close."""
    app = App()
    handle = await serve(app.sio)
    client = socketio.AsyncClient(reconnection=False)
    gone = asyncio.Event()
    client.on("disconnect", lambda *reason: gone.set())
    await client.connect(handle.url, transports=TRANSPORTS[mode], wait_timeout=WAIT)
    sid = await asyncio.wait_for(app.connected, WAIT)
    if mode == "upgrade":
        await asyncio.wait_for(_until(lambda: app.sio.transport(sid) == "websocket"), WAIT)
    eio_sid = app.sio.manager.eio_sid_from_sid(sid, "/")
    assert eio_sid is not None and eio_sid in app.sio.eio.sockets
    await app.sio.eio.disconnect(eio_sid)
    assert await asyncio.wait_for(app.disconnected, WAIT) == (sid, app.sio.reason.SERVER_DISCONNECT)
    await asyncio.wait_for(gone.wait(), WAIT)
    assert eio_sid not in app.sio.eio.sockets
    assert not client.connected
    with pytest.raises(KeyError):
        app.sio.eio.transport(eio_sid)


async def test_eio_sessions_transport_and_raw_send(serve: Any) -> None:
    """Engine.IO-level user sessions, ``transport``, ``send`` (a raw Socket.IO EVENT reaches the
    client's handler) and ``send_packet``."""
    app = App()
    handle = await serve(app.sio)
    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("hi", lambda data: got.put_nowait(data))
    await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    sid = await asyncio.wait_for(app.connected, WAIT)
    eio = app.sio.eio
    eio_sid = app.sio.manager.eio_sid_from_sid(sid, "/")
    assert eio_sid is not None
    assert await eio.get_session(eio_sid) == {}
    await eio.save_session(eio_sid, {"user": "ann"})
    async with eio.session(eio_sid) as session:
        assert session == {"user": "ann"}
        session["n"] = 1
    assert await eio.get_session(eio_sid) == {"user": "ann", "n": 1}
    # The Engine.IO session is its own dict: the Socket.IO user session of the sid is separate.
    assert await app.sio.get_session(sid) == {}
    with pytest.raises(KeyError):
        await eio.get_session("no-such-sid")
    assert eio.transport(eio_sid) == "websocket" == app.sio.transport(sid)
    await eio.send(eio_sid, '2["hi","raw"]')
    assert await asyncio.wait_for(got.get(), WAIT) == "raw"
    from aiosio.protocol.engineio import Packet, PacketType

    await eio.send_packet(eio_sid, Packet(PacketType.MESSAGE, '2["hi","packet"]'))
    assert await asyncio.wait_for(got.get(), WAIT) == "packet"
    await client.disconnect()


async def test_eio_attributes_and_helpers() -> None:
    """The attributes and helpers apps read from ``sio.eio`` (python-engineio's names)."""
    sio = aiosio.AsyncServer(ping_interval=7, ping_timeout=3, max_http_buffer_size=12345)
    eio = sio.eio
    assert isinstance(eio, aiosio.engineio.AsyncServer)
    assert (eio.ping_interval, eio.ping_timeout, eio.max_http_buffer_size) == (7, 3, 12345)
    assert eio.async_mode == sio.async_mode == "aiohttp"
    assert eio.transports == ["polling", "websocket"]
    assert eio.is_asyncio_based() and sio.is_asyncio_based()
    assert dict(eio.sockets) == {}
    assert isinstance(eio.create_event(), asyncio.Event)
    assert isinstance(eio.create_queue(), asyncio.Queue)
    assert eio.get_queue_empty_exception() is asyncio.QueueEmpty
    assert isinstance(eio.generate_id(), str) and eio.generate_id() != eio.generate_id()
    done: asyncio.Future[int] = future()

    async def job(x: int) -> None:
        await eio.sleep(0)
        done.set_result(x)

    task = eio.start_background_task(job, 5)
    assert isinstance(task, asyncio.Task)
    assert await asyncio.wait_for(done, WAIT) == 5
    assert sio.reserved_events == ["connect", "disconnect"]


async def test_eio_disconnect_without_sid_closes_everyone(serve: Any) -> None:
    """``sio.eio.disconnect()`` (no sid) closes every session, as python-engineio's does."""
    sio = aiosio.AsyncServer()
    reasons: list[str] = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    handle = await serve(sio)
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
    for client in clients:
        await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    await sio.eio.disconnect()
    await asyncio.wait_for(_until(lambda: len(reasons) == 3), WAIT)
    assert reasons == ["server disconnect"] * 3
    assert dict(sio.eio.sockets) == {}


@pytest.fixture
async def manual_app() -> AsyncIterator[tuple[aiosio.AsyncServer, str]]:
    """An aiohttp app routing ``/socket.io/`` to ``sio.handle_request`` itself (no ``attach``)."""
    sio = aiosio.AsyncServer()
    app = web.Application()
    app.router.add_route("*", "/socket.io/", sio.handle_request)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield sio, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.shutdown(), 5)
        await runner.cleanup()


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_handle_request_serves_a_route_the_app_added(
    manual_app: tuple[aiosio.AsyncServer, str], mode: str
) -> None:
    """``app.router.add_route('*', '/socket.io/', sio.handle_request)`` serves Socket.IO."""
    sio, url = manual_app

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=TRANSPORTS[mode], wait_timeout=WAIT)
    assert await client.call("echo", {"x": 1}, timeout=WAIT) == {"x": 1}
    await client.disconnect()


async def test_engineio_server_session_lives_through_its_disconnect_handler(
    serve: Any, http: aiohttp.ClientSession
) -> None:
    """A bare Engine.IO server: ``get_session`` works in the connect, message and disconnect
    handlers (python-engineio runs the disconnect handler before the session is gone)."""
    eio = aiosio.engineio.AsyncServer()
    seen: asyncio.Future[Any] = future()

    @eio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        async with eio.session(sid) as session:
            session["user"] = "bob"

    @eio.on("message")
    async def message(sid: str, data: Any) -> None:
        (await eio.get_session(sid))["said"] = data

    @eio.on("disconnect")
    async def disconnect(sid: str, reason: str) -> None:
        seen.set_result((await eio.get_session(sid), reason))

    handle = await serve(eio, engineio_path="engine.io")
    ws = await http.ws_connect(handle.endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0{")
    await ws.send_str("4hello")
    await asyncio.sleep(0.1)
    await ws.close()
    session, reason = await asyncio.wait_for(seen, WAIT)
    assert session == {"user": "bob", "said": "hello"}
    assert reason == eio.reason.TRANSPORT_CLOSE


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
