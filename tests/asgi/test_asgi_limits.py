"""The origin checks, payload limits and bad-input handling on ASGI (uvicorn): the same refusals as on
aiohttp, a clean close with a reason for the offending connection, and the others untouched."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio  # PyPI python-socketio, the client peer

import aiosio

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0
FOREIGN = "http://evil.example"
GOOD = "http://good.example"


def echo_server(**kwargs: Any) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(async_mode="asgi", **kwargs)
    sio.disconnects = []  # type: ignore[attr-defined]

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        sio.disconnects.append(reason)  # type: ignore[attr-defined]

    return sio


@pytest.fixture
async def bystander() -> AsyncIterator[Any]:
    """``await bystander(url)``: a python-socketio client on WebSocket, to show it is untouched."""
    clients: list[socketio.AsyncClient] = []

    async def connect(url: str, transports: list[str] | None = None) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await asyncio.wait_for(client.connect(url, transports=transports or ["websocket"]), WAIT)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.disconnect()


async def untouched(client: socketio.AsyncClient) -> None:
    assert client.connected
    assert await client.call("echo", "still here", timeout=WAIT) == "still here"


async def handshake(http: aiohttp.ClientSession, endpoint: str) -> str:
    async with http.get(endpoint + "?EIO=4&transport=polling") as resp:
        body = await resp.text()
        assert resp.status == 200, body
        return str(json.loads(body[1:])["sid"])


# -------------------------------------------------------------------------------- origin / CORS


async def test_foreign_origin_refused_on_http_and_websocket(serve: Any, http: aiohttp.ClientSession) -> None:
    """With no CORS setting only the server's own origin passes: a foreign one gets 403 and
    Engine.IO's "Forbidden" for a polling request and for a WebSocket handshake alike (uvicorn
    sends the HTTP answer through the ``websocket.http.response`` extension)."""
    handle = await serve(echo_server())
    async with http.get(handle.endpoint + "?EIO=4&transport=polling", headers={"Origin": FOREIGN}) as resp:
        assert resp.status == 403
        assert await resp.json() == {"code": 4, "message": "Forbidden"}
        assert "Access-Control-Allow-Origin" not in resp.headers
    ws_url = handle.endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url, headers={"Origin": FOREIGN})
    assert refused.value.status == 403
    # The server's own origin passes, on both.
    own = {"Origin": handle.url}
    async with http.get(handle.endpoint + "?EIO=4&transport=polling", headers=own) as resp:
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == handle.url
    ws = await http.ws_connect(ws_url, headers=own)
    assert (await ws.receive_str()).startswith("0{")
    await ws.close()


async def test_listed_origins_and_preflight(serve: Any, http: aiohttp.ClientSession) -> None:
    """``cors_allowed_origins=[...]``: a listed origin gets the CORS headers (and a preflight its
    204 with the methods), an unlisted one 403, on ASGI as on aiohttp."""
    handle = await serve(echo_server(cors_allowed_origins=[GOOD]))
    url = handle.endpoint + "?EIO=4&transport=polling"
    async with http.options(url, headers={"Origin": GOOD, "Access-Control-Request-Headers": "x-a"}) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == GOOD
        assert resp.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET, POST"
        assert resp.headers["Access-Control-Allow-Headers"] == "x-a"
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    async with http.get(url, headers={"Origin": GOOD}) as resp:
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == GOOD
    for method in ("GET", "OPTIONS"):
        async with http.request(method, url, headers={"Origin": FOREIGN}) as resp:
            assert resp.status == 403, method


# ------------------------------------------------------------------------------ payload limits


async def test_oversize_post_is_413_and_ends_only_that_session(
    serve: Any, http: aiohttp.ClientSession, bystander: Any
) -> None:
    """A POST over ``max_http_buffer_size`` is refused with 413 while it is read (the rest is not
    buffered) and its session ends; another client is untouched."""
    sio = echo_server(max_http_buffer_size=10_000)
    handle = await serve(sio)
    other = await bystander(handle.url)
    sid = await handshake(http, handle.endpoint)
    url = f"{handle.endpoint}?EIO=4&transport=polling&sid={sid}"
    async with http.post(url, data=b"4" + b"x" * 20_000) as resp:
        assert resp.status == 413
        assert await resp.json() == {"code": 3, "message": "Payload too large"}
    async with http.get(url) as resp:
        assert resp.status == 400  # the session is gone
    # Chunked, with no Content-Length: the cap holds while reading.

    async def chunks() -> AsyncIterator[bytes]:
        yield b"4"
        for _ in range(30):
            yield b"y" * 1000

    sid2 = await handshake(http, handle.endpoint)
    url2 = f"{handle.endpoint}?EIO=4&transport=polling&sid={sid2}"
    async with http.post(url2, data=chunks()) as resp:
        assert resp.status == 413
    await untouched(other)


async def test_too_many_packets_in_a_post(serve: Any, http: aiohttp.ClientSession, bystander: Any) -> None:
    """More packets in one POST than ``max_payload_packets``: 400, and the session is closed."""
    handle = await serve(echo_server(max_payload_packets=5))
    other = await bystander(handle.url)
    sid = await handshake(http, handle.endpoint)
    url = f"{handle.endpoint}?EIO=4&transport=polling&sid={sid}"
    async with http.post(url, data="\x1e".join(["3"] * 6)) as resp:
        assert resp.status == 400
    async with http.get(url) as resp:
        assert resp.status == 400
    await untouched(other)


async def test_oversize_websocket_message_closes_with_1009(
    serve: Any, http: aiohttp.ClientSession, bystander: Any
) -> None:
    """A WebSocket message over ``max_http_buffer_size`` closes that connection with 1009 and a
    reason (its session ends as a transport error); exactly the limit is accepted; others go on."""
    sio = echo_server(max_http_buffer_size=5000)
    handle = await serve(sio)
    other = await bystander(handle.url)
    ws_url = handle.endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket"
    ws = await http.ws_connect(ws_url)
    assert (await ws.receive_str()).startswith("0{")
    await ws.send_str("40")
    assert (await ws.receive_str()).startswith("40{")
    await ws.send_str('42["x","' + "a" * 4990 + '"]')  # exactly the limit: accepted
    await ws.send_str("3")  # an unasked PONG: ignored, and shows the previous message was read
    await asyncio.sleep(0.1)
    assert len(sio.eio.sockets) == 2
    await ws.send_str("4" + "é" * 3000)  # 3,000 characters, 6,001 bytes: over
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    while msg.type is aiohttp.WSMsgType.TEXT:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (1009, "message too big")
    await untouched(other)
    async with asyncio.timeout(WAIT):
        while len(sio.eio.sockets) != 1:
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("body", [b"\xff\xfe", b"9nope", b"4abc\x1e", b"b!!notbase64"])
async def test_malformed_polling_body(
    serve: Any, http: aiohttp.ClientSession, bystander: Any, body: bytes
) -> None:
    """A malformed polling payload: 400, the session is closed (parse error), no traceback, and
    another client carries on."""
    handle = await serve(echo_server())
    other = await bystander(handle.url, ["polling"])
    sid = await handshake(http, handle.endpoint)
    url = f"{handle.endpoint}?EIO=4&transport=polling&sid={sid}"
    async with http.post(url, data=body) as resp:
        assert resp.status == 400
    async with http.get(url) as resp:
        assert resp.status == 400
    await untouched(other)


async def test_malformed_websocket_message(serve: Any, http: aiohttp.ClientSession, bystander: Any) -> None:
    """A WebSocket message that is no Engine.IO packet ends that connection with a close frame."""
    handle = await serve(echo_server())
    other = await bystander(handle.url)
    ws_url = handle.endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket"
    ws = await http.ws_connect(ws_url)
    assert (await ws.receive_str()).startswith("0{")
    await ws.send_str("9what")
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    while msg.type is aiohttp.WSMsgType.TEXT:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    await untouched(other)


async def test_slow_consumer_is_closed_with_bounded_memory(serve: Any, bystander: Any) -> None:
    """A WebSocket client that stops reading: the server's sends wait in the sink's queue, and
    once that holds more than ``max_queue_bytes`` the session is closed as a slow consumer (the
    queue dropped, the connection ended); another client is untouched."""
    sio = echo_server(max_queue_bytes=256 * 1024)
    handle = await serve(sio)
    other = await bystander(handle.url)
    # A raw WebSocket client that reads the handshake answer and then nothing.
    reader, writer = await asyncio.open_connection("127.0.0.1", handle.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.write(bytes([0x81, 0x82]) + b"\0\0\0\0" + b"40")  # masked text frame "40": CONNECT
    await writer.drain()
    async with asyncio.timeout(WAIT):
        while len(sio._sockets) < 2:
            await asyncio.sleep(0.02)
    (sid,) = [s for s, sock in sio._sockets.items() if sock.eio_sid != other.eio.sid]
    session = sio._sockets[sid].session
    chunk = "z" * 64 * 1024
    async with asyncio.timeout(WAIT):
        while not session.closed:
            await sio.emit("flood", chunk, to=sid)
            sink = session._sink
            assert sink is None or sink.buffered() <= 256 * 1024 + len(chunk) + 100
            await asyncio.sleep(0)
    assert session.close_reason == "slow consumer"
    assert session._sink is None
    await untouched(other)
    writer.close()
