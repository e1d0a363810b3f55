"""Class-based namespaces as python-socketio runs them (``trigger_event`` overrides honoured), and
the connect handler's arguments and refusals (python-socketio's AsyncClient and raw Engine.IO)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
import socketio  # python-socketio, as the client peer only

import aiosio

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


class Guarded(aiosio.AsyncNamespace):
    """Middleware in ``trigger_event``: every event is seen, some are answered without a method."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.seen: list[tuple[Any, ...]] = []

    async def trigger_event(self, event: str, *args: Any) -> Any:
        self.seen.append((event, *args[1:]) if event != "connect" else (event,))
        if event == "secret":
            return "blocked"
        if event == "anything":
            return f"caught {args[1]}"
        return await super().trigger_event(event, *args)

    async def on_connect(self, sid: str, environ: dict[str, Any]) -> None:  # no auth: legacy form
        await self.emit("hello", sid, to=sid)

    def on_echo(self, sid: str, data: Any) -> Any:
        return data

    async def on_disconnect(self, sid: str) -> None:  # no reason: legacy form
        self.seen.append(("on_disconnect",))


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
async def test_trigger_event_override_sees_every_event(serve: Any, transports: list[str]) -> None:
    """python-socketio calls ``trigger_event`` for class-based handlers; an override is the
    namespace's middleware: it sees connect, each event (with or without an ``on_`` method) and
    disconnect, and its return value is the ack."""
    ns = Guarded("/g")
    sio = aiosio.AsyncServer()
    sio.register_namespace(ns)
    handle = await serve(sio)
    client = socketio.AsyncClient(reconnection=False)
    hello: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.on("hello", lambda sid: hello.set_result(sid), namespace="/g")
    await client.connect(handle.url, namespaces=["/g"], transports=transports, wait_timeout=WAIT)
    assert await asyncio.wait_for(hello, WAIT) == client.get_sid("/g")
    assert await client.call("echo", 5, namespace="/g", timeout=WAIT) == 5
    assert await client.call("secret", 1, namespace="/g", timeout=WAIT) == "blocked"
    assert await client.call("anything", "x", namespace="/g", timeout=WAIT) == "caught x"
    await client.disconnect()
    await _until(lambda: ("on_disconnect",) in ns.seen)
    # (python-socketio's client may close its WebSocket before its DISCONNECT packet is written.)
    reason = ns.seen[4][1]
    assert reason in {"client disconnect", "transport close"}
    assert ns.seen == [
        ("connect",),
        ("echo", 5),
        ("secret", 1),
        ("anything", "x"),
        ("disconnect", reason),
        ("on_disconnect",),
    ]


async def test_catch_all_namespace_trigger_event_gets_the_namespace(serve: Any) -> None:
    """A ``'*'`` class-based namespace's trigger_event gets ``(event, namespace, sid, ...)``."""

    class Everywhere(aiosio.AsyncNamespace):
        async def trigger_event(self, event: str, *args: Any) -> Any:
            if event == "where":
                return list(args[:1])
            return await super().trigger_event(event, *args)

    sio = aiosio.AsyncServer(namespaces="*")
    sio.register_namespace(Everywhere("*"))
    handle = await serve(sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(handle.url, namespaces=["/x"], transports=["websocket"], wait_timeout=WAIT)
    assert await client.call("where", namespace="/x", timeout=WAIT) == ["/x"]
    await client.disconnect()


async def test_namespace_emit_passes_volatile(serve: Any) -> None:
    """``AsyncNamespace.emit(..., volatile=True)`` reaches the server's emit as volatile."""

    class Seen(aiosio.AsyncManager):
        volatile: list[bool] = []

        async def emit(self, event: str, data: Any, namespace: str, **kwargs: Any) -> None:
            self.volatile.append(kwargs.get("volatile", False))
            await super().emit(event, data, namespace, **kwargs)

    ns = aiosio.AsyncNamespace("/")
    sio = aiosio.AsyncServer(client_manager=Seen())
    sio.register_namespace(ns)
    handle = await serve(sio)
    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("tick", lambda n: got.put_nowait(n))
    await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    await ns.emit("tick", 1, volatile=True)
    await ns.emit("tick", 2)
    assert [await asyncio.wait_for(got.get(), WAIT) for _ in range(2)] == [1, 2]
    assert Seen.volatile == [True, False]
    await client.disconnect()


class Auth:
    """A server recording what its connect handler got as ``auth``."""

    def __init__(self) -> None:
        self.sio = aiosio.AsyncServer()
        self.auth: asyncio.Queue[Any] = asyncio.Queue()

        @self.sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            self.auth.put_nowait(auth)


@pytest.mark.parametrize(("packet", "expected"), [("40", None), ("40{}", None), ('40{"k":1}', {"k": 1})])
async def test_connect_auth_as_python_socketio_passes_it(
    serve: Any, http: aiohttp.ClientSession, packet: str, expected: Any
) -> None:
    """``40`` and ``40{}`` both give ``auth=None`` (python-socketio: no auth is None); auth data as is."""
    app = Auth()
    handle = await serve(app.sio)
    async with http.ws_connect(
        handle.endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket"
    ) as ws:
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str(packet)
        assert (await ws.receive_str()).startswith("40{")
        assert await asyncio.wait_for(app.auth.get(), WAIT) == expected


async def test_python_socketio_client_without_auth_gives_none(serve: Any) -> None:
    """python-socketio's client sends ``40{}`` when given no auth: the handler gets None."""
    app = Auth()
    handle = await serve(app.sio)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    assert await asyncio.wait_for(app.auth.get(), WAIT) is None
    await client.disconnect()


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (ConnectionRefusedError, "Connection refused by server"),
        (ConnectionRefusedError("ignored text"), "Connection refused by server"),
        (aiosio.exceptions.ConnectionRefusedError, "Connection rejected by server"),
        (aiosio.exceptions.ConnectionRefusedError("go away"), "go away"),
    ],
    ids=["builtin", "builtin-with-text", "aiosio-default", "aiosio-message"],
)
async def test_connection_refused_is_a_plain_refusal(
    serve: Any, caplog: pytest.LogCaptureFixture, raised: Any, message: str
) -> None:
    """Python's ConnectionRefusedError (and aiosio's) refuse the client with python-socketio's
    message, and log no error."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        raise raised

    handle = await serve(sio)
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data))
    with caplog.at_level(logging.INFO, logger="aiosio"), pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    assert errors == [{"message": message}]
    assert [r for r in caplog.records if r.name.startswith("aiosio") and r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("lib", [aiosio, socketio], ids=["aiosio", "python-socketio"])
async def test_a_catch_all_handler_alone_opens_no_namespace(serve: Any, lib: Any) -> None:
    """python-socketio's rule: a namespace is open when it is in ``namespaces`` (or that is '*') or a
    handler names it. A ``'*'`` handler that only logs events must not admit namespaces nobody declared;
    ``namespaces='*'`` does. The same test runs on python-socketio as the reference."""
    closed = lib.AsyncServer(async_mode="aiohttp")
    closed.on("*", lambda event, sid, *args: None, namespace="*")
    closed.on("*", lambda event, sid, *args: None)
    opened = lib.AsyncServer(async_mode="aiohttp", namespaces="*")
    opened.on("*", lambda event, sid, *args: None, namespace="*")
    for server, admitted in ((closed, False), (opened, True)):
        handle = await serve(server)
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(handle.url, namespaces=["/undeclared"], wait_timeout=WAIT)
        except socketio.exceptions.ConnectionError:
            assert not admitted
        else:
            assert admitted
            assert client.get_sid("/undeclared") is not None
        finally:
            await client.disconnect()
