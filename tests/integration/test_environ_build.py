"""transport/environ.build_environ: the values are those of the request, whatever the request line
and Host header (the port is read without building ``request.url``; header keys are shared).

Raw HTTP requests over TCP to a real aiohttp server, so the request target can be origin-form or
absolute-form and the Host header anything a client may send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aiosio.transport import environ as environ_module
from aiosio.transport.environ import build_environ


def _reference(request: web.Request) -> dict[str, Any]:
    """The environ as the straightforward formula gives it (``request.url.port``, fresh keys)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.raw_path,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": str(peer[1]),
        "SERVER_NAME": request.host.split(":")[0],
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
        seen.append((built, _reference(request)))
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
    "target,host",
    [
        ("/socket.io/?EIO=4&transport=websocket", "127.0.0.1:{port}"),
        ("/socket.io/?EIO=4", "example.com"),  # no port: the scheme's default
        ("/socket.io/", "[::1]:8443"),
        ("/x", "example.com:80"),
        ("http://other.example:8081/socket.io/?EIO=4", "ignored.example:99"),  # absolute-form
        ("http://other.example/socket.io/", "ignored.example:99"),
    ],
)
async def test_same_values_as_the_request(
    server: tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]], target: str, host: str
) -> None:
    port, seen = server
    head = (
        f"GET {target} HTTP/1.1\r\nHost: {host.format(port=port)}\r\nX-Thing: a\r\nx-thing: b\r\n"
        "User-Agent: t\r\nConnection: close\r\n\r\n"
    )
    answer = await _raw(port, head)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    ((built, reference),) = seen
    assert built == reference
    assert built["HTTP_X_THING"] == "a,b"


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
