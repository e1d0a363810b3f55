"""The ASGI transport's fixes after its cold review: a stuck client cannot hold a close, a failed
adapter start does not stop the app, python-engineio's path and header rules, the sid cookie of
both transports, hung-up and cancelled long-polls, no close after the client's, RFC 9110's 204,
the sink counting bytes, ``aiosio run``'s uvicorn settings, static files under a mount, and an
``other_asgi_app`` without lifespan support.

The ASGI server is a real uvicorn where its behaviour matters; elsewhere the app is called with an
ASGI scope and ``receive``/``send`` functions, as an ASGI server calls it."""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import engineio
import orjson
import pytest
import socketio  # PyPI python-socketio: the client peer, and the reference
from aiohttp import web
from asgi_support import start_uvicorn, stop_uvicorn
from engineio.async_drivers.asgi import translate_request

import aiosio
from aiosio.cli.asgi_serve import is_asgi_app, socketio_servers
from aiosio.cli.run import LoadError, resolve_target
from aiosio.engine.request import environ_of
from aiosio.protocol.frames import Frame
from aiosio.transport.asgi_sink import AsgiSink
from processes import AIOSIO, ServerProcess

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0

Message = dict[str, Any]


def http_scope(path: str = "/socket.io/", query: bytes = b"EIO=4&transport=polling", **extra: Any) -> Message:
    scope: Message = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(b"host", b"example.com")],
        "client": ("10.1.2.3", 5555),
        "server": ("example.com", 80),
        "scheme": "http",
    }
    scope.update(extra)
    return scope


async def call(app: Callable[..., Awaitable[Any]], scope: Message) -> list[Message]:
    """One HTTP request, its body already complete; the messages the app sent."""
    sent: list[Message] = []
    received = False

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), WAIT)
    return sent


def header(messages: list[Message], name: bytes) -> list[bytes]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    return [v for k, v in start["headers"] if k.lower() == name]


# ------------------------------------------------------------------- 2: a close cannot get stuck


async def raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that reads nothing after the handshake (a tiny receive buffer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.write(bytes([0x81, 0x82]) + b"\0\0\0\0" + b"40")  # a masked "40": the namespace CONNECT
    await writer.drain()
    return reader, writer


async def flood_the_only_socket(sio: aiosio.AsyncServer) -> str:
    """Wait for the server's one socket, emit 7.5 MiB to it (a client that does not read keeps
    most of it queued), let the writes settle; its sid."""
    async with asyncio.timeout(WAIT):
        while not sio._sockets:
            await asyncio.sleep(0.02)
    (sid,) = sio._sockets
    for _ in range(120):
        await sio.emit("flood", "z" * 64 * 1024, to=sid)
        await asyncio.sleep(0)
    await asyncio.sleep(0.3)
    return sid


async def test_shutdown_is_bounded_with_a_client_that_stops_reading() -> None:
    """A client that stops reading holds uvicorn's ``send``: the session's close (here from
    ``sio.shutdown()``) waits for the sink's queue at most its close timeout (``ping_timeout``
    here, 1 s), then aborts the connection: the shutdown completes well before the core's own 5 s
    bound, the read loop ends, and nothing is logged as an error (no CancelledError traceback)."""
    sio = aiosio.AsyncServer(max_queue_bytes=64 * 1024 * 1024, ping_interval=100, ping_timeout=1)
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio), timeout_graceful_shutdown=2)
    _reader, writer = await raw_websocket(port)
    try:
        sid = await flood_the_only_socket(sio)
        session = sio._sockets[sid].session
        assert session._sink is not None and session._sink.buffered() > 0, "the client took it all"
        began = time.monotonic()
        await sio.shutdown()
        assert time.monotonic() - began < 3.0, "the close waited for a client that does not read"
        assert session.closed
        async with asyncio.timeout(WAIT):
            while uv.server_state.tasks:  # the ASGI app's call (the read loop) has ended
                await asyncio.sleep(0.02)
    finally:
        writer.transport.abort()
        await stop_uvicorn(uv, task)


@pytest.mark.allow_server_errors(r"ERROR: Cancel \d+ running task\(s\), timeout graceful shutdown exceeded$")
async def test_plain_uvicorn_stop_with_a_client_that_stops_reading() -> None:
    """Plain uvicorn (no ``sio.shutdown()`` first) with a client that stops reading: uvicorn's
    close handshake cannot finish, so at its graceful-shutdown timeout (1 s, before the sink's
    own 2 s) it cancels the connection's close, which aborts the connection quietly: the stop
    completes, the session has ended, and no "Exception in ASGI application" traceback is logged
    (only uvicorn's own line about the timeout)."""
    sio = aiosio.AsyncServer(max_queue_bytes=64 * 1024 * 1024, ping_interval=100, ping_timeout=5)
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio), timeout_graceful_shutdown=1)
    _reader, writer = await raw_websocket(port)
    try:
        await flood_the_only_socket(sio)
        began = time.monotonic()
        await stop_uvicorn(uv, task)
        assert time.monotonic() - began < 3.0
        assert not sio.eio.core.sessions
    finally:
        writer.transport.abort()
        await stop_uvicorn(uv, task)


async def test_sink_close_aborts_when_cancelled() -> None:
    """A close cancelled while the queue waits aborts the sink (queue dropped, writer cancelled)
    and the cancellation goes on."""
    blocked = asyncio.Event()

    async def send(_message: Message) -> None:
        await blocked.wait()

    sink = AsgiSink(send, None, close_timeout=30)
    sink.send(Frame(b"4hello"))
    closing = asyncio.ensure_future(sink.close())
    await asyncio.sleep(0.05)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert sink.aborted and sink.buffered() == 0


# ----------------------------------------------------------- 3: a failed adapter start, carried on


@pytest.mark.allow_server_errors("the adapter failed to start")
async def test_a_failed_adapter_start_does_not_stop_the_app() -> None:
    """As on aiohttp's ``on_startup``: the adapter's failure at the lifespan startup is logged and
    the app starts anyway; the next connection starts the adapter and is served."""
    sio = aiosio.AsyncServer()
    calls = []
    first_init = sio._adapter.init

    async def init(host: Any) -> Any:
        calls.append(host)
        if len(calls) == 1:
            raise ConnectionError("redis is down")
        return await first_init(host)

    sio._adapter.init = init  # type: ignore[method-assign]

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio))
    try:
        assert len(calls) == 1 and not sio._adapter_ready
        client = socketio.AsyncClient(reconnection=False)
        await asyncio.wait_for(client.connect(f"http://127.0.0.1:{port}", transports=["websocket"]), WAIT)
        assert await client.call("echo", "served", timeout=WAIT) == "served"
        assert sio._adapter_ready and len(calls) == 2
        await client.disconnect()
    finally:
        await sio.shutdown()
        await stop_uvicorn(uv, task)


# ------------------------------------------------------------------ 4: socketio_path '' and '/'


@pytest.mark.parametrize("path", ["", "/"])
async def test_root_socketio_path_matches_every_path(path: str) -> None:
    """``socketio_path`` ``''`` or ``'/'`` is the root, which every request is under (as in
    python-engineio: ``'/'`` matches everything), not ``'//'``, which matched nothing."""
    sio = aiosio.AsyncServer()
    app = aiosio.ASGIApp(sio, socketio_path=path)
    assert app.socketio_path == engineio.ASGIApp(None, engineio_path=path or "/").engineio_path == "/"
    for request_path in ("/socket.io/", "/anything/else"):
        sent = await call(app, http_scope(request_path))
        assert sent[0]["status"] == 200 and sent[1]["body"].startswith(b'0{"sid":'), request_path
    await sio.shutdown()


# ------------------------------------------------------------ 5: one sid cookie for both transports


async def aiohttp_cookie(options: Any) -> str:
    sio = aiosio.AsyncServer(cookie=options)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling") as resp,
        ):
            sid = orjson.loads((await resp.read())[1:])["sid"]
            return resp.headers["Set-Cookie"].replace(sid, "SID")
    finally:
        await sio.shutdown()
        await runner.cleanup()


async def asgi_cookie(options: Any) -> str:
    sio = aiosio.AsyncServer(cookie=options)
    sent = await call(aiosio.ASGIApp(sio), http_scope())
    sid = orjson.loads(sent[1]["body"][1:])["sid"]
    await sio.shutdown()
    (value,) = header(sent, b"set-cookie")
    return value.decode().replace(sid, "SID")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("io", "io=SID; HttpOnly; Path=/; SameSite=Lax"),
        ({"name": "x", "samesite": None}, "x=SID; HttpOnly; Path=/"),
        ({"name": "x", "samesite": "None", "secure": True}, "x=SID; HttpOnly; Path=/; SameSite=None; Secure"),
        ({"name": "x", "httponly": False, "path": "/a"}, "x=SID; Path=/a; SameSite=Lax"),
    ],
)
async def test_sid_cookie_is_the_same_on_both_transports(options: Any, expected: str) -> None:
    """The ``cookie`` option gives the same ``Set-Cookie`` on aiohttp and ASGI; ``samesite=None``
    leaves ``SameSite`` out (browsers drop ``SameSite=None`` without ``Secure``)."""
    assert await asgi_cookie(options) == await aiohttp_cookie(options) == expected


# ----------------------------------------------------------------- 6: UTF-8 headers and query


async def test_headers_and_query_are_utf8_as_in_python_socketio() -> None:
    """Header values and the query string are UTF-8, as python-engineio's ASGI environ and aiohttp
    give them: ``'José'`` stays ``'José'`` (not ``'JosÃ©'``)."""
    sio = aiosio.AsyncServer()
    headers = [(b"host", b"h"), (b"x-user", "José".encode()), (b"cookie", b"a=1"), (b"cookie", b"b=2")]
    scope = http_scope(query="EIO=4&transport=polling&name=é".encode(), headers=headers)
    await call(aiosio.ASGIApp(sio), scope)
    (session,) = sio.eio.core.sessions.values()
    ours = environ_of(session.request)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    theirs = await translate_request(scope, receive, None)
    for key in ("HTTP_X_USER", "QUERY_STRING", "HTTP_COOKIE", "HTTP_HOST"):
        assert ours[key] == theirs[key], key
    assert ours["HTTP_X_USER"] == "José" and session.request.query["name"] == "é"
    await sio.shutdown()


# ------------------------------------------------------------------ 8: a long-poll's client hangs up


async def test_a_hung_up_long_poll_ends_its_session_at_once() -> None:
    """A client that hangs up on its waiting long-poll GET ends the session then (``transport
    error``), not at the next PING ``ping_interval`` later."""
    sio = aiosio.AsyncServer(ping_interval=20, ping_timeout=20)
    reasons: list[str] = []

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        reasons.append(reason)

    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio))
    endpoint = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(endpoint) as resp:
                sid = orjson.loads((await resp.read())[1:])["sid"]
            url = f"{endpoint}&sid={sid}"
            async with http.post(url, data=b"40") as resp:
                assert resp.status == 200
            async with http.get(url) as resp:
                assert (await resp.read()).startswith(b"40")
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await http.get(url)  # waits; the timeout closes its connection
        began = time.monotonic()
        async with asyncio.timeout(WAIT):
            while sid in sio.eio.core.sessions:
                await asyncio.sleep(0.02)
        assert time.monotonic() - began < 2.0
        assert reasons == ["transport error"]
    finally:
        await sio.shutdown()
        await stop_uvicorn(uv, task)


# -------------------------------------------------------- 16: a cancelled long-poll, not a shutdown


async def waiting_poll(sio: aiosio.AsyncServer) -> tuple[asyncio.Task[None], Any, list[Message]]:
    app = aiosio.ASGIApp(sio)
    sent = await call(app, http_scope())
    sid = orjson.loads(sent[1]["body"][1:])["sid"]
    session = sio.eio.core.get(sid)
    answer: list[Message] = []

    async def run() -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def never_disconnect() -> Message:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        first = [True]

        async def once_then_wait() -> Message:
            if first[0]:
                first[0] = False
                return await receive()
            return await never_disconnect()

        async def send(message: Message) -> None:
            answer.append(message)

        await app(http_scope(query=f"EIO=4&transport=polling&sid={sid}".encode()), once_then_wait, send)

    task = asyncio.ensure_future(run())
    async with asyncio.timeout(WAIT):
        while session._poll is None:
            await asyncio.sleep(0.01)
    return task, session, answer


async def test_a_cancelled_long_poll_is_a_transport_error_unless_the_server_stops() -> None:
    """A waiting GET cancelled by anything but the server stopping ends the session with
    ``transport error`` and the cancellation goes on; only uvicorn's graceful-shutdown cancel
    (its message names it) is answered with the CLOSE packet (``server shutting down``)."""
    sio = aiosio.AsyncServer()
    task, session, answer = await waiting_poll(sio)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.close_reason == "transport error" and answer == []

    task, session, answer = await waiting_poll(sio)
    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
    await asyncio.wait_for(task, WAIT)
    assert session.close_reason == "server shutting down"
    assert answer[1]["body"] == b"1"
    await sio.shutdown()


# --------------------------------------------------- 9: no close after the client's, 10: 204


async def test_no_websocket_close_after_the_client_closed() -> None:
    """When the client closes (``websocket.disconnect``) the app sends no ``websocket.close``
    after it: the connection is closed already."""
    sio = aiosio.AsyncServer()
    sent: list[Message] = []
    events = asyncio.Queue[Message]()
    events.put_nowait({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.send":
            events.put_nowait({"type": "websocket.disconnect", "code": 1000})

    scope = http_scope(query=b"EIO=4&transport=websocket", type="websocket", scheme="ws")
    await asyncio.wait_for(aiosio.ASGIApp(sio)(scope, events.get, send), WAIT)
    types = [m["type"] for m in sent]
    assert types[:2] == ["websocket.accept", "websocket.send"]
    assert "websocket.close" not in types
    await sio.shutdown()


async def test_preflight_204_has_no_content_length() -> None:
    """The OPTIONS preflight is a 204, which carries no ``content-length`` (RFC 9110)."""
    sio = aiosio.AsyncServer(cors_allowed_origins="*")
    headers = [(b"host", b"h"), (b"origin", b"http://x"), (b"access-control-request-method", b"POST")]
    sent = await call(aiosio.ASGIApp(sio), http_scope(method="OPTIONS", headers=headers))
    assert sent[0]["status"] == 204
    assert header(sent, b"content-length") == [] and sent[1]["body"] == b""
    assert header(sent, b"access-control-allow-origin") == [b"http://x"]


# ------------------------------------------------------------------- 11: the sink counts bytes


async def test_sink_counts_utf8_bytes() -> None:
    """What the sink holds is counted in bytes (UTF-8 for text), as ``max_queue_bytes`` says."""
    blocked = asyncio.Event()

    async def send(_message: Message) -> None:
        await blocked.wait()

    sink = AsgiSink(send, None)
    text = "4" + "é" * 100
    sink.send(Frame(text.encode()))
    assert sink.buffered() == len(text.encode()) == 201
    sink.send_polling([text.encode(), b"b" + base64.b64encode(b"\x01\x02\x03")])
    assert sink.buffered() == 201 + 201 + 3
    sink.abort()


# ----------------------------------------------------- 12, 13, 14: aiosio run's ASGI detection


def test_is_asgi_app_wants_three_required_parameters() -> None:
    """A factory whose three parameters all have defaults is not an ASGI app; apps are."""

    def create_app(config: Any = None, debug: bool = False, name: str = "x") -> Any:
        return None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    def partly(scope: Any, receive: Any, send: Any = None) -> None:
        return None

    assert not is_asgi_app(create_app) and not is_asgi_app(partly)
    assert is_asgi_app(app) and is_asgi_app(aiosio.ASGIApp(aiosio.AsyncServer()))


async def test_load_errors_name_asgi_applications() -> None:
    """The refusal of a target that is not servable lists ASGI applications among what is."""
    with pytest.raises(LoadError, match="an ASGI application, or a function returning one"):
        await resolve_target(42)
    with pytest.raises(LoadError, match=r"the factory returned int; .* or an ASGI application"):
        await resolve_target(lambda: 42)


def test_the_servers_of_an_asgiapp_target_are_known() -> None:
    """The server an ``aiosio.ASGIApp`` serves counts with the module's (for uvicorn's
    ``ws_max_size`` and the shutdown), once."""
    sio = aiosio.AsyncServer()
    other = aiosio.AsyncServer()
    assert socketio_servers(aiosio.ASGIApp(sio), [other]) == [other, sio]
    assert socketio_servers(aiosio.ASGIApp(sio), [sio]) == [sio]
    assert socketio_servers(object(), [other]) == [other]


FACTORY_APP = """
import aiosio


def make():
    sio = aiosio.AsyncServer(max_http_buffer_size=20 * 1024 * 1024)

    @sio.event
    async def size(sid, data):
        return len(data)

    return aiosio.ASGIApp(sio)
"""


async def test_run_asgi_without_deflate_and_with_the_servers_limit(
    start: Callable[[list[str]], ServerProcess], tmp_path: Path
) -> None:
    """``aiosio run`` of a factory returning ``ASGIApp(sio)``: WebSocket compression is not
    negotiated (as on aiohttp: it costs memory per connection), and uvicorn's ``ws_max_size`` is
    raised to that server's ``max_http_buffer_size``, so a 17 MiB message (over uvicorn's 16 MiB
    default) is served instead of closed with 1009."""
    (tmp_path / "factoryapp.py").write_text(FACTORY_APP)
    server = start([*AIOSIO, "run", "factoryapp:make", "--app-dir", str(tmp_path), "--port", "0"])
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15, max_msg_size=0) as ws:
        assert "Sec-WebSocket-Extensions" not in ws._response.headers
        assert ws.compress == 0
        assert (await ws.receive_str(timeout=WAIT)).startswith("0{")
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=WAIT)).startswith("40")
        big = "x" * (17 * 1024 * 1024)
        await ws.send_str('421["size","' + big + '"]')
        assert await ws.receive_str(timeout=WAIT) == f"431[{len(big)}]"


# -------------------------------------------------------------- 15: static files under a mount


async def test_static_files_keyed_with_the_full_path_under_a_mount(tmp_path: Path) -> None:
    """Under a Starlette mount (``root_path='/app'``) a ``static_files`` key may be the full path
    (python-socketio's lookup: ``scope['path']``) or the path below the mount point."""
    (tmp_path / "a.html").write_text("full")
    (tmp_path / "b.html").write_text("below")
    static = {"/app/a.html": str(tmp_path / "a.html"), "/b.html": str(tmp_path / "b.html")}
    app = aiosio.ASGIApp(aiosio.AsyncServer(), static_files=static)
    for path, body in (("/app/a.html", b"full"), ("/app/b.html", b"below")):
        sent = await call(app, http_scope(path, b"", root_path="/app"))
        assert (sent[0]["status"], sent[1]["body"]) == (200, body), path
    sent = await call(app, http_scope("/app/c.html", b"", root_path="/app"))
    assert sent[0]["status"] == 404


def test_serve_static_file_has_the_reference_signature() -> None:
    """``serve_static_file(static_file, receive, send)``, as python-engineio's (for subclasses)."""
    ours = inspect.signature(aiosio.ASGIApp.serve_static_file).parameters
    theirs = inspect.signature(engineio.ASGIApp.serve_static_file).parameters
    assert list(ours) == list(theirs)


# ------------------------------------------------- 17: an other_asgi_app without lifespan support


async def raising_app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError(f"unsupported scope {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"other"})


async def ignoring_app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # reads the startup event and gives up
        return
    await raising_app(scope, receive, send)


@pytest.mark.parametrize("other", [raising_app, ignoring_app])
async def test_other_app_without_lifespan_keeps_the_servers_lifespan(other: Any) -> None:
    """Wrapping an app that does not take part in the lifespan (it raises, or ends without
    answering), the server still starts at startup and shuts down at shutdown, under uvicorn's
    default ``lifespan='auto'``."""
    sio = aiosio.AsyncServer()
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio, other_asgi_app=other), lifespan="auto")
    try:
        assert sio._adapter_ready, "the server's startup did not run"
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/x") as resp:
            assert await resp.text() == "other"
    finally:
        await stop_uvicorn(uv, task)
    assert sio._closing, "the server's shutdown did not run"
