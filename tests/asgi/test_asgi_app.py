"""``aiosio.ASGIApp`` in applications: FastAPI/Starlette (mounted, or wrapping), static files,
lifespan, and python-socketio's compatibility points (``async_mode='asgi'``, the static rules)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import engineio.static_files
import pytest
import socketio  # PyPI python-socketio: the client peer, and the reference for the rules
from asgi_support import start_uvicorn, stop_uvicorn
from fastapi import FastAPI

import aiosio
from aiosio.transport.static_files import static_file

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0


async def connected_client(url: str, path: str = "socket.io", transports: list[str] | None = None) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    await asyncio.wait_for(client.connect(url, socketio_path=path, transports=transports), WAIT)
    return client


def echo_server(**kwargs: Any) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(async_mode="asgi", **kwargs)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    return sio


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None])
async def test_mounted_in_fastapi_beside_http_routes(transports: list[str] | None) -> None:
    """``app.mount('/ws', ASGIApp(sio))``: the FastAPI routes answer, and a client connects with
    ``socketio_path='/ws/socket.io'`` and gets its acks, on each transport (and the upgrade)."""
    sio = echo_server()
    app = FastAPI()

    @app.get("/api/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.mount("/ws", aiosio.ASGIApp(sio))
    uv, task, port = await start_uvicorn(app)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/api/hello") as resp:
            assert resp.status == 200 and await resp.json() == {"hello": "world"}
        client = await connected_client(url, "/ws/socket.io", transports)
        try:
            assert await client.call("echo", {"x": [1, b"\x00\xff"]}, timeout=WAIT) == {"x": [1, b"\x00\xff"]}
            if transports is None:
                async with asyncio.timeout(WAIT):
                    while client.transport() != "websocket":
                        await asyncio.sleep(0.02)
                assert await client.call("echo", "after upgrade", timeout=WAIT) == "after upgrade"
            else:
                assert client.transport() == transports[0]
        finally:
            await client.disconnect()
    finally:
        await sio.shutdown()
        await stop_uvicorn(uv, task)


async def test_wrapping_fastapi_with_its_lifespan() -> None:
    """``ASGIApp(sio, other_asgi_app=fastapi)``: other paths go to FastAPI, whose lifespan runs
    (startup before the first request, shutdown at the end), with the Socket.IO server's woven in:
    its adapter is started before the first connection (at the lifespan startup, not lazily), its
    shutdown has begun when FastAPI's runs, no session is left open, and the client was
    disconnected (plain uvicorn closes WebSockets itself before the lifespan shutdown; see
    docs/asgi.md)."""
    sio = echo_server()
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        events.append("fastapi startup")
        yield
        events.append(
            f"fastapi shutdown with {len(sio.eio.sockets)} sessions open, server closing: {sio._closing}"
        )

    api = FastAPI(lifespan=lifespan)

    @api.get("/items/{n}")
    async def item(n: int) -> dict[str, int]:
        return {"n": n}

    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio, other_asgi_app=api))
    url = f"http://127.0.0.1:{port}"
    try:
        assert events == ["fastapi startup"]
        assert sio._adapter_ready, "the server's startup was not woven in"
        async with aiohttp.ClientSession() as http, http.get(url + "/items/7") as resp:
            assert resp.status == 200 and await resp.json() == {"n": 7}
        client = await connected_client(url, transports=["websocket"])
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", lambda *reason: gone.done() or gone.set_result(reason))
        assert await client.call("echo", 5, timeout=WAIT) == 5
    finally:
        await stop_uvicorn(uv, task)
    await asyncio.wait_for(gone, WAIT)
    assert events == ["fastapi startup", "fastapi shutdown with 0 sessions open, server closing: True"]


async def test_own_lifespan_hooks_and_the_adapter_start() -> None:
    """``on_startup``/``on_shutdown`` run (sync or async); the adapter starts at startup (as on
    aiohttp's ``on_startup``), and ``sio.shutdown()`` runs at shutdown."""
    sio = echo_server()
    events: list[str] = []

    async def started() -> None:
        events.append(f"startup, adapter ready: {sio._adapter_ready}")

    uv, task, port = await start_uvicorn(
        aiosio.ASGIApp(sio, on_startup=started, on_shutdown=lambda: events.append("shutdown"))
    )
    try:
        client = await connected_client(f"http://127.0.0.1:{port}", transports=["websocket"])
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", lambda *reason: gone.done() or gone.set_result(reason))
    finally:
        await stop_uvicorn(uv, task)
    await asyncio.wait_for(gone, WAIT)
    assert events == ["startup, adapter ready: True", "shutdown"]
    assert sio._closing


async def test_static_files_and_not_found(tmp_path: Path) -> None:
    """``static_files`` as python-socketio serves them (a file, a directory with its index, content
    types); no ``../``; anything else is 404 (no other app)."""
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "app.js").write_text("console.log(1)")
    (tmp_path / "public" / "index.html").write_text("public index")
    (tmp_path / "secret.txt").write_text("secret")
    static = {"/": str(tmp_path / "index.html"), "/static": str(tmp_path / "public")}
    sio = echo_server()
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio, static_files=static))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for path, status, body, ctype in [
                ("/", 200, "<h1>home</h1>", "text/html"),
                ("/static/app.js", 200, "console.log(1)", "application/javascript"),
                ("/static/", 200, "public index", "text/html"),
                ("/static/missing.js", 404, "Not Found", "text/plain"),
                ("/static/../secret.txt", 404, "Not Found", "text/plain"),
                ("/elsewhere", 404, "Not Found", "text/plain"),
            ]:
                # The raw path: aiohttp would otherwise normalise the "..".
                async with http.get(aiohttp.client.URL(url + path, encoded=True)) as resp:
                    assert (resp.status, await resp.text(), resp.content_type) == (status, body, ctype), path
        client = await connected_client(url, transports=["polling"])
        assert await client.call("echo", "beside static files", timeout=WAIT) == "beside static files"
        await client.disconnect()
    finally:
        await sio.shutdown()
        await stop_uvicorn(uv, task)


RULES: list[dict[str, Any]] = [
    {"/": "index.html"},
    {"/": {"filename": "index.html", "content_type": "text/plain"}},
    {"/static": "./public"},
    {"/static/": "./public/"},
    {"/static": "./public", "": "default.htm"},
    {"/static": "./public", "": {"filename": "default.htm", "content_type": "text/x-custom"}},
    {"/a/b": "deep", "/a": "shallow/", "/": "root/"},
    {"/bin": "files/data.bin", "/img/": "images/"},
]
PATHS = [
    "/",
    "/index.html",
    "/static",
    "/static/",
    "/static/app.js",
    "/static/sub/dir/",
    "/static/../etc/passwd",
    "/a/b/c.png",
    "/a/x.gif",
    "/other",
    "/bin",
    "/img/a.jpg",
    "/img",
    "/x/y/z.css",
]


@pytest.mark.parametrize("rules", RULES)
def test_static_rules_are_python_engineios(rules: dict[str, Any]) -> None:
    """The static-file rule gives what python-engineio's ``get_static_file`` gives, for every path."""
    for path in PATHS:
        assert static_file(path, rules) == engineio.static_files.get_static_file(path, rules), (path, rules)


def test_async_mode_asgi() -> None:
    """``async_mode='asgi'`` is accepted and reported, as python-socketio does; others are refused."""
    sio = aiosio.AsyncServer(async_mode="asgi")
    assert sio.async_mode == "asgi" and sio.eio.async_mode == "asgi"
    assert aiosio.AsyncServer().async_mode == "aiohttp"
    assert aiosio.engineio.AsyncServer(async_mode="asgi").async_mode == "asgi"
    with pytest.raises(ValueError, match="async_mode"):
        aiosio.AsyncServer(async_mode="eventlet")


async def test_handle_request_with_an_asgi_scope() -> None:
    """``sio.handle_request(scope, receive, send)`` (python-engineio's ASGI entry point, what
    python-socketio's ASGIApp calls) answers an ASGI request: here a polling handshake."""
    sio = echo_server()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=polling",
        "headers": [(b"host", b"example.com")],
        "client": ("10.1.2.3", 5555),
        "server": ("example.com", 80),
        "scheme": "http",
    }
    assert await sio.handle_request(scope, receive, send) is None
    assert sent[0]["status"] == 200 and sent[1]["body"].startswith(b'0{"sid":')
    (session,) = sio.eio.sockets.values()
    environ = aiosio.engine.request.environ_of(session.request)
    assert environ["REMOTE_ADDR"] == "10.1.2.3" and environ["HTTP_HOST"] == "example.com"
    assert environ["QUERY_STRING"] == "EIO=4&transport=polling" and environ["asgi.scope"] is scope
    await sio.shutdown()


@pytest.mark.allow_server_errors(r"ERROR: Cancel \d+ running task\(s\), timeout graceful shutdown exceeded$")
async def test_polling_client_when_plain_uvicorn_stops() -> None:
    """Plain uvicorn waits for running requests before the lifespan shutdown, so a waiting
    long-poll GET holds it until ``timeout_graceful_shutdown``; uvicorn then cancels the GET,
    which is answered with the CLOSE packet (the client's disconnect handler runs) and no
    traceback. (``aiosio run`` shuts the servers down first: no wait, see test_cli_asgi.py.)"""
    sio = echo_server()
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio), timeout_graceful_shutdown=1)
    try:
        client = await connected_client(f"http://127.0.0.1:{port}", transports=["polling"])
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", lambda *reason: gone.done() or gone.set_result(reason))
        await asyncio.sleep(0.2)  # its GET is waiting
    finally:
        await stop_uvicorn(uv, task)
    # The Engine.IO CLOSE: python-socketio's client reports a server disconnect.
    assert await asyncio.wait_for(gone, WAIT) == ("server disconnect",)


def test_signature_is_python_socketios() -> None:
    """``ASGIApp``'s parameters are python-socketio's, in order, with its defaults."""
    import inspect

    ours = list(inspect.signature(aiosio.ASGIApp.__init__).parameters.values())
    theirs = list(inspect.signature(socketio.ASGIApp.__init__).parameters.values())
    assert [(p.name, p.default) for p in ours] == [(p.name, p.default) for p in theirs]
