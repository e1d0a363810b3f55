"""Engine.IO / Socket.IO wire behaviour checked with raw aiohttp HTTP and WebSocket requests.

These mirror the official conformance suites (see docs/conformance.md) so that the behaviour they
assert is also covered by ``pytest``, and add CORS / same-origin checks. Where python-socketio
5.18 deviates (fractional ping intervals, ``OK`` bodies, sessions not closed on errors...), the
tests assert the correct behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import WSMsgType

import aiosio
import aiosio.engineio

pytestmark = pytest.mark.timeout(30)

PING_INTERVAL = 0.3  # seconds, as the conformance suites configure it
PING_TIMEOUT = 0.2
SLOW_PING = 20.0  # for tests where a ping timeout must not be what closes the session
#: For tests whose client answers PINGs: client and server share one event loop, and a stall of it
#: (a busy CI machine) must not make an answering client miss a 0.2 s PONG deadline.
STALL_SAFE_TIMEOUT = 1.0
WAIT = 5.0
FOREIGN = "http://evil.example"
T = TypeVar("T")


async def eio_echo(
    serve: Any, ping_interval: float = PING_INTERVAL, ping_timeout: float = PING_TIMEOUT, **kwargs: Any
) -> Any:
    """Run an Engine.IO server on ``/engine.io/`` that echoes every message to its sender."""
    eio = aiosio.engineio.AsyncServer(
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_http_buffer_size=1_000_000,
        cors_allowed_origins="*",
        **kwargs,
    )

    @eio.on("message")
    async def message(sid: str, data: Any) -> None:
        await eio.send(sid, data)

    return await serve(eio, engineio_path="engine.io")


async def sio_conformance(serve: Any, ping_interval: float = PING_INTERVAL) -> Any:
    """Run the socket.io-protocol suite's server (``/`` and ``/custom``, see the example)."""
    sio = aiosio.AsyncServer(
        ping_interval=ping_interval,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=1_000_000,
        cors_allowed_origins="*",
    )

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("auth", auth if auth is not None else {}, to=sid)

    @sio.on("message")
    async def message(sid: str, *args: Any) -> None:
        await sio.emit("message-back", args, to=sid)

    @sio.on("message-with-ack")
    async def message_with_ack(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("connect", namespace="/custom")
    async def connect_custom(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("auth", auth if auth is not None else {}, to=sid, namespace="/custom")

    return await serve(sio)


async def within(awaitable: Awaitable[T], what: str, timeout: float = WAIT) -> T:
    """Await *awaitable*; on timeout fail with a short assertion (cancels it) instead of a long
    chained traceback."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


def ws_url(endpoint: str, query: str = "EIO=4&transport=websocket") -> str:
    """WebSocket URL for an ``http://.../path/`` endpoint."""
    return endpoint.replace("http://", "ws://") + "?" + query


async def request(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    """Perform one HTTP request and return ``(status, body text)``."""
    async with http.request(method, url, **kwargs) as resp:
        return resp.status, await resp.text()


async def open_polling(http: aiohttp.ClientSession, endpoint: str) -> str:
    """Open an Engine.IO polling session and return its sid."""
    status, body = await request(http, "GET", endpoint + "?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0"), (status, body)
    return str(json.loads(body[1:])["sid"])


def sid_url(endpoint: str, sid: str, extra: str = "") -> str:
    """Polling URL for an existing session."""
    return f"{endpoint}?EIO=4&transport=polling&sid={sid}{extra}"


async def next_text(ws: aiohttp.ClientWebSocketResponse, skip_pings: bool = False) -> str:
    """Next text frame (optionally skipping Engine.IO pings ``2``); fails on anything else."""
    while True:
        msg = await within(ws.receive(), "a WebSocket frame")
        assert msg.type == WSMsgType.TEXT, msg
        if skip_pings and msg.data == "2":
            continue
        return str(msg.data)


async def closed_by_server(ws: aiohttp.ClientWebSocketResponse, timeout: float = WAIT) -> bool:
    """True once the server closes *ws* (data frames before the close are ignored)."""

    async def drain() -> bool:
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                return True

    return await within(drain(), "the server to close the WebSocket", timeout)


# --------------------------------------------------------------------------- Engine.IO handshake


async def test_polling_handshake(serve: Any, http: aiohttp.ClientSession) -> None:
    """200, ``0{...}`` with exactly five keys; intervals in integer ms (0.3 s -> 300)."""
    handle = await eio_echo(serve)
    status, body = await request(http, "GET", handle.endpoint + "?EIO=4&transport=polling")
    assert status == 200
    assert body.startswith("0")
    value = json.loads(body[1:])
    assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(value["sid"], str) and value["sid"]
    assert value["upgrades"] == ["websocket"]
    assert value["pingInterval"] == 300 and isinstance(value["pingInterval"], int)
    assert value["pingTimeout"] == 200 and isinstance(value["pingTimeout"], int)
    assert value["maxPayload"] == 1_000_000


async def test_websocket_handshake(serve: Any, http: aiohttp.ClientSession) -> None:
    """The first WebSocket message is the handshake, with no further upgrades offered."""
    handle = await eio_echo(serve)
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        data = await next_text(ws)
        assert data.startswith("0")
        value = json.loads(data[1:])
        assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert value["upgrades"] == []
        assert (value["pingInterval"], value["pingTimeout"]) == (300, 200)
        assert value["maxPayload"] == 1_000_000


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("GET", "transport=polling"),
        ("GET", "EIO=abc&transport=polling"),
        ("GET", "EIO=3&transport=polling"),
        ("GET", "EIO=4"),
        ("GET", "EIO=4&transport=abc"),
        ("POST", "EIO=4&transport=polling"),
        ("PUT", "EIO=4&transport=polling"),
        ("GET", "EIO=4&transport=polling&sid=unknown-sid"),
        ("POST", "EIO=4&transport=polling&sid=unknown-sid"),
    ],
)
async def test_bad_requests_are_400(serve: Any, http: aiohttp.ClientSession, method: str, query: str) -> None:
    """Bad EIO, missing/unknown transport, handshake by POST/PUT, unknown sid -> HTTP 400."""
    handle = await eio_echo(serve)
    body = None if method == "GET" else "4x"
    status, _ = await request(http, method, f"{handle.endpoint}?{query}", data=body)
    assert status == 400


@pytest.mark.parametrize(
    "query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"]
)
async def test_bad_websocket_handshakes_are_rejected(
    serve: Any, http: aiohttp.ClientSession, query: str
) -> None:
    """A WebSocket upgrade with a bad EIO or transport is refused with HTTP 400."""
    handle = await eio_echo(serve)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        async with http.ws_connect(ws_url(handle.endpoint, query)):
            pass
    assert info.value.status == 400


# ------------------------------------------------------------------------ Engine.IO messages


@pytest.mark.parametrize("payload", ["4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "4ünï€"])
async def test_polling_post_is_ok_and_echoed(serve: Any, http: aiohttp.ClientSession, payload: str) -> None:
    """POST answers exactly ``ok``; the next GET returns the echoed packets in one payload."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    assert await request(http, "POST", sid_url(handle.endpoint, sid), data=payload) == (200, "ok")
    assert await request(http, "GET", sid_url(handle.endpoint, sid)) == (200, payload)


async def test_large_polling_post_is_read_fully(serve: Any, http: aiohttp.ClientSession) -> None:
    """A 900 kB POST (under maxPayload) is read completely, not truncated."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    payload = "4" + "".join(chr(0x61 + i % 26) for i in range(900_000))
    assert await request(http, "POST", sid_url(handle.endpoint, sid), data=payload) == (200, "ok")
    status, body = await request(http, "GET", sid_url(handle.endpoint, sid))
    assert status == 200
    assert len(body) == len(payload)
    assert hashlib.sha256(body.encode()).digest() == hashlib.sha256(payload.encode()).digest()


async def test_polling_invalid_packet_closes_session(serve: Any, http: aiohttp.ClientSession) -> None:
    """An undecodable POST -> 400 (or an aborted request) and the session is gone."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    with contextlib.suppress(aiohttp.ClientError):
        status, _ = await request(http, "POST", sid_url(handle.endpoint, sid), data="abc")
        assert status == 400
    status, _ = await request(http, "GET", sid_url(handle.endpoint, sid))
    assert status == 400


async def test_polling_duplicate_get_closes_session(serve: Any, http: aiohttp.ClientSession) -> None:
    """A second concurrent GET: the first gets ``1`` (close), the second 400/500, then 400."""
    handle = await eio_echo(serve, ping_interval=SLOW_PING)
    sid = await open_polling(http, handle.endpoint)
    first = asyncio.create_task(request(http, "GET", sid_url(handle.endpoint, sid)))
    await asyncio.sleep(0.05)  # as the suite: let the first poll park (no event to await)
    second = await request(http, "GET", sid_url(handle.endpoint, sid, "&t=burst"))
    assert await within(first, "the first poll") == (200, "1")
    assert second[0] in (400, 500)
    assert (await request(http, "GET", sid_url(handle.endpoint, sid)))[0] == 400


async def test_polling_close_packet_ends_pending_get(serve: Any, http: aiohttp.ClientSession) -> None:
    """POST ``1`` while a GET is parked -> that GET returns ``6`` (noop); then 400."""
    handle = await eio_echo(serve, ping_interval=SLOW_PING)
    sid = await open_polling(http, handle.endpoint)
    poll = asyncio.create_task(request(http, "GET", sid_url(handle.endpoint, sid)))
    await asyncio.sleep(0.05)  # let the GET park first (the suite fires both at once)
    post = await request(http, "POST", sid_url(handle.endpoint, sid), data="1")
    assert post[0] == 200
    assert await within(poll, "the parked poll") == (200, "6")
    assert (await request(http, "GET", sid_url(handle.endpoint, sid)))[0] == 400


async def test_websocket_echo_text_and_binary(serve: Any, http: aiohttp.ClientSession) -> None:
    """Text ``4hello`` and a binary frame are echoed as they are."""
    handle = await eio_echo(serve)
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        await next_text(ws)
        await ws.send_str("4hello")
        assert await next_text(ws, skip_pings=True) == "4hello"
        await ws.send_bytes(bytes([1, 2, 3, 4]))
        while True:
            msg = await within(ws.receive(), "a WebSocket frame")
            if msg.type == WSMsgType.TEXT and msg.data == "2":
                await ws.send_str("3")
                continue
            break
        assert msg.type == WSMsgType.BINARY and msg.data == bytes([1, 2, 3, 4])


@pytest.mark.parametrize("frame", ["abc", "1"])
async def test_websocket_invalid_or_close_packet_closes(
    serve: Any, http: aiohttp.ClientSession, frame: str
) -> None:
    """An invalid packet or a close packet closes the WebSocket session promptly (pings are
    slow here, so a ping timeout cannot be what closes it)."""
    handle = await eio_echo(serve, ping_interval=SLOW_PING)
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        await next_text(ws)
        await ws.send_str(frame)
        assert await closed_by_server(ws, timeout=2.0)


# ----------------------------------------------------------------------- Engine.IO heartbeat


async def test_polling_heartbeat(serve: Any, http: aiohttp.ClientSession) -> None:
    """Three rounds of GET -> ``2`` / POST ``3`` -> 200."""
    handle = await eio_echo(serve, ping_timeout=STALL_SAFE_TIMEOUT)
    sid = await open_polling(http, handle.endpoint)
    for _ in range(3):
        assert await request(http, "GET", sid_url(handle.endpoint, sid)) == (200, "2")
        assert (await request(http, "POST", sid_url(handle.endpoint, sid), data="3"))[0] == 200


async def test_polling_ping_timeout_closes_session(serve: Any, http: aiohttp.ClientSession) -> None:
    """No pong within pingInterval + pingTimeout -> the session ends, not before (timing is the
    test): the first GET carries the PING, and once the PONG deadline has passed GETs end in 400.
    A stall of the loop can only make the end later, never earlier, so the bounds are what the
    server cannot beat (no 400 before pingInterval + pingTimeout) and a generous upper one."""
    handle = await eio_echo(serve)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sid = await open_polling(http, handle.endpoint)
    assert await request(http, "GET", sid_url(handle.endpoint, sid)) == (200, "2")
    await asyncio.sleep(PING_TIMEOUT)  # no PONG
    async with asyncio.timeout(WAIT):
        # At once, or (the PING was late) at the end of a GET that waits through the deadline.
        while (answer := await request(http, "GET", sid_url(handle.endpoint, sid)))[0] != 400:
            assert answer[0] == 200 and answer[1] in ("6", "2"), answer
    assert loop.time() - started >= PING_INTERVAL + PING_TIMEOUT


async def test_websocket_heartbeat_and_timeout(serve: Any, http: aiohttp.ClientSession) -> None:
    """Pings arrive about every pingInterval and are answered; silence closes the socket."""
    answering = await eio_echo(serve, ping_timeout=STALL_SAFE_TIMEOUT)
    handle = await eio_echo(serve)
    loop = asyncio.get_running_loop()
    async with http.ws_connect(ws_url(answering.endpoint)) as ws:
        await next_text(ws)
        start = loop.time()
        for _ in range(3):
            assert await next_text(ws) == "2"
            await ws.send_str("3")
        assert 3 * PING_INTERVAL - 0.1 <= loop.time() - start < 3 * PING_INTERVAL + 2.0
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        await next_text(ws)
        start = loop.time()
        assert await closed_by_server(ws, timeout=3.0)
        assert loop.time() - start < PING_INTERVAL + PING_TIMEOUT + 1.0


# ------------------------------------------------------------------------- Engine.IO upgrade


async def test_upgrade(serve: Any, http: aiohttp.ClientSession) -> None:
    """probe -> ``3probe``; the parked/next GET gets ``6``; after ``5`` data flows on the
    WebSocket with no extra noop sent over it."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    async with http.ws_connect(ws_url(handle.endpoint, f"EIO=4&transport=websocket&sid={sid}")) as ws:
        await ws.send_str("2probe")
        assert await next_text(ws) == "3probe"
        assert await request(http, "GET", sid_url(handle.endpoint, sid)) == (200, "6")
        await ws.send_str("5")
        await ws.send_str("4hello")
        assert await next_text(ws, skip_pings=True) == "4hello"


async def test_polling_after_upgrade_is_400(serve: Any, http: aiohttp.ClientSession) -> None:
    """Once upgraded, HTTP requests with the same sid are refused; the WebSocket still works."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    async with http.ws_connect(ws_url(handle.endpoint, f"EIO=4&transport=websocket&sid={sid}")) as ws:
        await ws.send_str("2probe")
        assert await next_text(ws) == "3probe"
        await ws.send_str("5")
        await ws.send_str("4sync")  # processed after "5", so the upgrade is complete...
        assert await next_text(ws, skip_pings=True) == "4sync"  # ...once this comes back
        assert (await request(http, "GET", sid_url(handle.endpoint, sid)))[0] == 400
        assert (await request(http, "POST", sid_url(handle.endpoint, sid), data="4x"))[0] == 400
        await ws.send_str("4hello")
        assert await next_text(ws, skip_pings=True) == "4hello"


async def test_second_websocket_after_upgrade_is_closed(serve: Any, http: aiohttp.ClientSession) -> None:
    """A second WebSocket for an upgraded sid is accepted and then closed (as the reference
    server does: an HTTP 400 would surface as an unhandled error in the suite's ``ws``)."""
    handle = await eio_echo(serve)
    sid = await open_polling(http, handle.endpoint)
    url = ws_url(handle.endpoint, f"EIO=4&transport=websocket&sid={sid}")
    async with http.ws_connect(url) as ws:
        await ws.send_str("2probe")
        assert await next_text(ws) == "3probe"
        await ws.send_str("5")
        await ws.send_str("4sync")
        assert await next_text(ws, skip_pings=True) == "4sync"
        async with http.ws_connect(url) as ws2:
            assert await closed_by_server(ws2)
        await ws.send_str("4hello")
        assert await next_text(ws, skip_pings=True) == "4hello"


# ---------------------------------------------------------------------- Socket.IO (raw frames)


async def sio_ws(http: aiohttp.ClientSession, endpoint: str) -> aiohttp.ClientWebSocketResponse:
    """Open a raw WebSocket and consume the Engine.IO handshake."""
    ws = await http.ws_connect(ws_url(endpoint))
    assert (await next_text(ws)).startswith("0")
    return ws


@pytest.mark.parametrize(
    ("connect", "prefix", "auth"),
    [
        ("40", "40", "{}"),
        ('40{"token":"123"}', "40", '{"token":"123"}'),
        ("40/custom,", "40/custom,", "{}"),
        ('40/custom,{"token":"abc"}', "40/custom,", '{"token":"abc"}'),
        ("40/custom", "40/custom,", "{}"),
    ],
)
async def test_sio_connect_reply_precedes_handler_emits(
    serve: Any, http: aiohttp.ClientSession, connect: str, prefix: str, auth: str
) -> None:
    """The CONNECT reply (``{"sid"}`` only) comes before anything the handler emits."""
    handle = await sio_conformance(serve)
    ws = await sio_ws(http, handle.endpoint)
    try:
        await ws.send_str(connect)
        reply = await next_text(ws)
        assert reply.startswith(prefix)
        body = json.loads(reply[len(prefix) :])
        assert set(body) == {"sid"} and isinstance(body["sid"], str)
        event_prefix = "42/custom," if "custom" in prefix else "42"
        assert await next_text(ws) == f'{event_prefix}["auth",{auth}]'
    finally:
        await ws.close()


async def test_sio_unknown_namespace(serve: Any, http: aiohttp.ClientSession) -> None:
    """``40/random`` -> ``44/random,{"message":"Invalid namespace"}``."""
    handle = await sio_conformance(serve)
    ws = await sio_ws(http, handle.endpoint)
    try:
        await ws.send_str("40/random")
        assert await next_text(ws) == '44/random,{"message":"Invalid namespace"}'
    finally:
        await ws.close()


async def test_sio_events_acks_and_binary(serve: Any, http: aiohttp.ClientSession) -> None:
    """Exact frames for events, acks, binary events and binary acks."""
    handle = await sio_conformance(serve)
    ws = await sio_ws(http, handle.endpoint)
    try:
        await ws.send_str("40")
        assert (await next_text(ws)).startswith("40{")
        assert await next_text(ws) == '42["auth",{}]'

        await ws.send_str('42["message",1,"2",{"3":[true]}]')
        assert await next_text(ws, skip_pings=True) == '42["message-back",1,"2",{"3":[true]}]'
        await ws.send_str('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert await next_text(ws, skip_pings=True) == '43456[1,"2",{"3":[false]}]'

        placeholders = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'
        for sent, expected in [
            (f'452-["message",{placeholders}]', f'452-["message-back",{placeholders}]'),
            (f'452-789["message-with-ack",{placeholders}]', f"462-789[{placeholders}]"),
        ]:
            await ws.send_str(sent)
            await ws.send_bytes(bytes([1, 2, 3]))
            await ws.send_bytes(bytes([4, 5, 6]))
            assert await next_text(ws, skip_pings=True) == expected
            for attachment in (bytes([1, 2, 3]), bytes([4, 5, 6])):
                msg = await within(ws.receive(), "a WebSocket frame")
                assert msg.type == WSMsgType.BINARY and msg.data == attachment
    finally:
        await ws.close()


async def test_sio_namespace_disconnect_keeps_connection(serve: Any, http: aiohttp.ClientSession) -> None:
    """Leaving ``/custom`` (``41/custom``) keeps ``/`` working on the same connection."""
    handle = await sio_conformance(serve)
    ws = await sio_ws(http, handle.endpoint)
    try:
        await ws.send_str("40")
        await next_text(ws)
        await next_text(ws)
        await ws.send_str("40/custom")
        assert (await next_text(ws, skip_pings=True)).startswith("40/custom,")
        assert await next_text(ws, skip_pings=True) == '42/custom,["auth",{}]'
        await ws.send_str("41/custom")
        await ws.send_str('42["message","message to main namespace"]')
        expected = '42["message-back","message to main namespace"]'
        assert await next_text(ws, skip_pings=True) == expected
    finally:
        await ws.close()


@pytest.mark.parametrize("connected", [False, True])
@pytest.mark.parametrize("frame", ["4abc", "42{}", '42abc["message-with-ack",1,"2"]', "4"])
async def test_sio_invalid_packet_closes_connection(
    serve: Any, http: aiohttp.ClientSession, frame: str, connected: bool
) -> None:
    """Unknown packet type, non-array event payload or a bad ack id closes the connection
    (before or after the namespace CONNECT; slow pings rule out a ping timeout)."""
    handle = await sio_conformance(serve, ping_interval=SLOW_PING)
    ws = await sio_ws(http, handle.endpoint)
    try:
        if connected:
            await ws.send_str("40")
            await next_text(ws)
            await next_text(ws)
        await ws.send_str(frame)
        assert await closed_by_server(ws, timeout=2.0)
    finally:
        await ws.close()


# -------------------------------------------------------------------------------- CORS / origin


@pytest.mark.parametrize(
    ("cors", "origin", "allowed"),
    [
        (None, None, True),
        (None, "same", True),
        (None, FOREIGN, False),
        ("*", FOREIGN, True),
        (["http://good.example"], "http://good.example", True),
        (["http://good.example"], FOREIGN, False),
    ],
)
async def test_origin_checks(
    serve: Any, http: aiohttp.ClientSession, cors: Any, origin: str | None, allowed: bool
) -> None:
    """Foreign origins are refused by default (polling handshake and WebSocket upgrade alike);
    ``cors_allowed_origins`` lets them in and the response carries the CORS header."""
    kwargs = {} if cors is None else {"cors_allowed_origins": cors}
    handle = await serve(aiosio.AsyncServer(**kwargs))
    if origin == "same":
        origin = handle.url
    headers = {} if origin is None else {"Origin": origin}

    async with http.get(
        handle.endpoint, params={"EIO": "4", "transport": "polling"}, headers=headers
    ) as resp:
        assert (resp.status == 200) is allowed, resp.status
        if not allowed:
            assert resp.status in (400, 403)  # python-engineio says 400, engine.io 403
        elif cors is not None:
            assert resp.headers.get("Access-Control-Allow-Origin") in (origin, "*")

    if allowed:
        async with http.ws_connect(ws_url(handle.endpoint), headers=headers) as ws:
            assert (await next_text(ws)).startswith("0")
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            async with http.ws_connect(ws_url(handle.endpoint), headers=headers):
                pass
        assert info.value.status in (400, 403)


async def test_cors_preflight(serve: Any, http: aiohttp.ClientSession) -> None:
    """An OPTIONS preflight from an allowed origin is answered with the CORS headers."""
    handle = await serve(aiosio.AsyncServer(cors_allowed_origins=["http://good.example"]))
    async with http.options(
        handle.endpoint + "?EIO=4&transport=polling",
        headers={
            "Origin": "http://good.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    ) as resp:
        assert resp.status in (200, 204)
        assert resp.headers.get("Access-Control-Allow-Origin") == "http://good.example"
        assert "POST" in resp.headers.get("Access-Control-Allow-Methods", "")
