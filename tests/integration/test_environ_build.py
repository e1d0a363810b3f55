"""transport/environ.build_environ: the values are those of the request, whatever the request line
and Host header (the port is read without building ``request.url``; header keys are shared).

Raw HTTP requests over TCP to a real aiohttp server, so the request target can be origin-form or
absolute-form and the Host header anything a client may send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiosio
from aiosio.transport import environ as environ_module
from aiosio.transport.environ import build_environ


def _reference(request: web.Request) -> dict[str, Any]:
    """The environ as the straightforward formula gives it (``request.url``'s host and port, fresh
    keys; the hosts below are lower-case, which ``request.url.host`` would make them)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.raw_path,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": str(peer[1]),
        "SERVER_NAME": request.url.host,
        "SERVER_PORT": (request.url.port and str(request.url.port)) or "",
        "wsgi.url_scheme": request.scheme,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": request.headers.get("Content-Length", ""),
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = environ[key] + "," + value if key in environ else value
    return environ


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]]]:
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        built = build_environ(request)  # first: nothing cached on the request by the reference
        try:
            reference = _reference(request)
        except ValueError as exc:  # the plain formula fails on a Host port that is not a port
            reference = {"error": str(exc)}
        seen.append((built, reference))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], seen
    finally:
        await runner.cleanup()


async def _raw(port: int, head: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "target,host,version",
    [
        ("/socket.io/?EIO=4&transport=websocket", "127.0.0.1:{port}", "1.1"),
        ("/socket.io/?EIO=4", "example.com", "1.1"),  # no port: the scheme's default
        ("/socket.io/", "[::1]:8443", "1.1"),  # IPv6 with a port
        ("/socket.io/", "[::1]", "1.1"),
        ("/x", "example.com:80", "1.1"),
        ("http://other.example:8081/socket.io/?EIO=4", "ignored.example:99", "1.1"),  # absolute-form
        ("http://other.example/socket.io/", "ignored.example:99", "1.1"),
        ("https://secure.example/socket.io/?EIO=4", "ignored.example:99", "1.1"),  # https absolute
        ("https://secure.example:8443/socket.io/", "ignored.example", "1.1"),
        ("http://[::1]:8081/socket.io/", "[::1]:99", "1.1"),  # IPv6 absolute-form with a port
        ("//evil.example:99/x", "h.example:8080", "1.1"),  # a path, not a network path
        ("/socket.io/?EIO=4", None, "1.0"),  # HTTP/1.0, no Host at all
    ],
)
async def test_same_values_as_the_request(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]],
    target: str,
    host: str | None,
    version: str,
) -> None:
    port, seen = server
    host_line = "" if host is None else f"Host: {host.format(port=port)}\r\n"
    head = (
        f"GET {target} HTTP/{version}\r\n{host_line}X-Thing: a\r\nx-thing: b\r\n"
        "User-Agent: t\r\nConnection: close\r\n\r\n"
    )
    answer = await _raw(port, head)
    assert answer.startswith(f"HTTP/{version} 200".encode()) or answer.startswith(b"HTTP/1.1 200"), answer
    ((built, reference),) = seen
    assert built == reference
    assert built["HTTP_X_THING"] == "a,b"
    assert built["SERVER_PROTOCOL"] == f"HTTP/{version}"


@pytest.mark.parametrize(
    "host,name",
    [("h:abc", "h"), ("h:65536", "h"), ("[::1]:abc", "::1"), ("H.example:-1", "H.example")],
)
async def test_a_host_whose_port_is_not_a_port(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]], host: str, name: str
) -> None:
    """``Host: h:abc`` (the plain formula raises ValueError there): SERVER_PORT is empty, as for no
    port the environ can tell, and the rest of the environ is built."""
    port, seen = server
    head = f"GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    assert (await _raw(port, head)).startswith(b"HTTP/1.1 200")
    ((built, reference),) = seen
    assert "error" in reference  # the plain formula raises here
    assert built["SERVER_PORT"] == ""
    assert built["SERVER_NAME"] == name
    assert built["HTTP_HOST"] == host and built["PATH_INFO"] == "/x"


async def test_ipv6_host_server_name(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]],
) -> None:
    """``Host: [::1]:8443``: SERVER_NAME ``::1`` (the address as REMOTE_ADDR and ``request.url.host``
    write it), SERVER_PORT 8443."""
    port, seen = server
    head = "GET /x HTTP/1.1\r\nHost: [::1]:8443\r\nConnection: close\r\n\r\n"
    assert (await _raw(port, head)).startswith(b"HTTP/1.1 200")
    ((built, _),) = seen
    assert built["SERVER_NAME"] == "::1" and built["SERVER_PORT"] == "8443"


async def test_a_bad_host_port_does_not_fail_the_connect_handler(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A Socket.IO client sending ``Host: h:abc``: its connect handler gets the environ and the
    connection is accepted, with nothing logged at ERROR (any client could fill the log otherwise)."""
    sio = aiosio.AsyncServer()
    seen: list[tuple[str, str]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        seen.append((environ["SERVER_NAME"], environ["SERVER_PORT"]))

    handle = await serve(sio)
    url = handle.endpoint + "?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"Host": "h:abc"}) as ws:
        assert (await ws.receive_str(timeout=5)).startswith("0{")
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5)).startswith("40{")
    assert seen == [("h", "")]
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.records


async def test_header_keys_are_shared_but_bounded(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]],
) -> None:
    port, seen = server
    for n in range(2):
        head = f"GET /x HTTP/1.1\r\nHost: h\r\nX-Name-{n}: v\r\nUser-Agent: t\r\nConnection: close\r\n\r\n"
        assert (await _raw(port, head)).startswith(b"HTTP/1.1 200")
    (first, _), (second, _) = seen
    key_1 = next(k for k in first if k == "HTTP_USER_AGENT")
    key_2 = next(k for k in second if k == "HTTP_USER_AGENT")
    assert key_1 is key_2  # one key object for every connection's environ
    assert len(environ_module._keys) <= environ_module._KEYS_MAX


async def test_junk_header_names_do_not_end_the_sharing(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]],
) -> None:
    """600 long junk header names (more than the cache holds) are not remembered, so the ordinary
    names a later connection sends still get the shared keys."""
    port, seen = server
    cached = len(environ_module._keys)
    for batch in range(6):
        junk = "".join(f"X-{'j' * 70}-{batch}-{n}: v\r\n" for n in range(100))
        head = f"GET /x HTTP/1.1\r\nHost: h\r\n{junk}Connection: close\r\n\r\n"
        assert (await _raw(port, head)).startswith(b"HTTP/1.1 200")
    assert len(environ_module._keys) <= cached + 2  # Host, Connection at most: no junk name kept
    new_name = "X-Ordinary-After-Junk"
    for _ in range(2):
        head = f"GET /x HTTP/1.1\r\nHost: h\r\n{new_name}: v\r\nConnection: close\r\n\r\n"
        assert (await _raw(port, head)).startswith(b"HTTP/1.1 200")
    first, second = seen[-2][0], seen[-1][0]
    key = "HTTP_X_ORDINARY_AFTER_JUNK"
    (key_1,) = (k for k in first if k == key)
    (key_2,) = (k for k in second if k == key)
    assert key_1 is key_2
    assert seen[0][0][f"HTTP_X_{'J' * 70}_0_0"] == "v"  # the junk names still reach the environ
