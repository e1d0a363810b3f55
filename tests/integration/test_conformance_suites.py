"""The official conformance suites' checks, run by pytest against ``examples/conformance_server.py``.

The engine.io-protocol and socket.io-protocol repositories each publish a mocha ``test-suite/``
that CI cannot fetch (they are on no package registry). docs/conformance.md maps every one of
their tests to an aiosio test; most are in ``test_protocol_strict.py``. This module holds the
rest, written here after reading the suites:

* the socket.io suite's Engine.IO section, which runs against the *Socket.IO* server on
  ``/socket.io/`` (``test_protocol_strict.py`` runs the Engine.IO checks on an Engine.IO echo server);
* the suites' exact request sequences where ``test_protocol_strict.py`` checks a safer variant
  (a POST handshake without a body; ``2probe`` and ``5`` sent without waiting for ``3probe``);
* the Socket.IO checks it has no test for: ``41`` on the main namespace, and a connection that
  never sends a CONNECT.

The servers are the example's own ``build_engineio_app()`` and ``build_socketio_app()``, in-process
on a random port, so the example the suites are run against by hand is what is tested here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import WSMsgType, web

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conformance_server.py"
#: What both suites assert in the handshake (the example's settings).
PING_INTERVAL_MS, PING_TIMEOUT_MS, MAX_PAYLOAD = 300, 200, 1_000_000
#: mocha's default per-test timeout, and the suites' for heartbeat tests (seconds).
MOCHA_TIMEOUT, HEARTBEAT_TIMEOUT = 2.0, 5.0


def load_example() -> ModuleType:
    """``examples/conformance_server.py`` as a module (``examples/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("conformance_server", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance_server", module)
    spec.loader.exec_module(module)
    return module


EXAMPLE_MODULE = load_example()
#: suite name -> (the example's app builder, the Engine.IO path it serves).
SERVERS: dict[str, tuple[Callable[[], web.Application], str]] = {
    "engineio": (EXAMPLE_MODULE.build_engineio_app, "engine.io"),
    "socketio": (EXAMPLE_MODULE.build_socketio_app, "socket.io"),
}


class Suite:
    """One running example server and the suites' ways of talking to it."""

    def __init__(self, http: aiohttp.ClientSession, port: int, path: str) -> None:
        self.http = http
        self.url = f"http://127.0.0.1:{port}/{path}/"

    def eio(self, query: str) -> str:
        return f"{self.url}?{query}"

    def ws_url(self, query: str = "EIO=4&transport=websocket") -> str:
        return self.eio(query).replace("http://", "ws://")

    def sid_url(self, sid: str) -> str:
        return self.eio(f"EIO=4&transport=polling&sid={sid}")

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
        async with self.http.request(method, url, **kwargs) as resp:
            return resp.status, await resp.text()

    async def polling_session(self) -> str:
        """``initLongPollingSession()``: a polling handshake, returning the sid."""
        status, body = await self.request("GET", self.eio("EIO=4&transport=polling"))
        assert status == 200 and body.startswith("0"), (status, body)
        return str(json.loads(body[1:])["sid"])

    async def websocket(self, query: str = "EIO=4&transport=websocket") -> aiohttp.ClientWebSocketResponse:
        return await within(
            self.http.ws_connect(self.ws_url(query), autoping=True), "the WebSocket handshake"
        )

    async def socketio_connection(self) -> aiohttp.ClientWebSocketResponse:
        """``initSocketIOConnection()``: Engine.IO open, ``40``, the CONNECT reply, the auth event."""
        ws = await self.websocket()
        assert (await message(ws)).startswith("0{")
        await ws.send_str("40")
        assert (await message(ws)).startswith("40{")
        assert await message(ws) == '42["auth",{}]'
        return ws


async def within(awaitable: Awaitable[T], what: str, timeout: float = MOCHA_TIMEOUT) -> T:
    """Await with the suites' time limit, failing with a short message."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout} s (the suites' limit)") from None


async def message(ws: aiohttp.ClientWebSocketResponse, timeout: float = MOCHA_TIMEOUT) -> Any:
    """``waitFor(socket, "message")``: the next data frame, text as ``str``, binary as ``bytes``."""
    msg = await within(ws.receive(), "WebSocket message", timeout)
    assert msg.type in (WSMsgType.TEXT, WSMsgType.BINARY), msg
    return msg.data


async def echoed(ws: aiohttp.ClientWebSocketResponse, expected: str) -> None:
    """Read until ``expected`` arrives, skipping ``3probe`` and answering pings on the way."""
    while (data := await message(ws)) != expected:
        assert data in ("3probe", "2"), data
        if data == "2":
            await ws.send_str("3")


async def closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = MOCHA_TIMEOUT) -> None:
    """``waitFor(socket, "close")``: the server closes the WebSocket (data frames before are ignored)."""

    async def drain() -> None:
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                return

    await within(drain(), "close of the WebSocket", timeout)


@pytest.fixture(scope="module")
def worker_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """``url_of(suite)``: the example served by ``aiosio run ... --workers 2`` (started once per
    module and suite), the suites' way to check the hand-off between workers."""
    from processes import AIOSIO, ServerProcess, start_process

    started: dict[str, ServerProcess] = {}
    workdir = tmp_path_factory.mktemp("workers")

    def url_of(suite: str) -> str:
        if suite not in started:
            target = f"conformance_server:{SERVERS[suite][0].__name__}"
            cmd = [*AIOSIO, "run", target, "--app-dir", str(EXAMPLE.parent), "--port", "0"]
            started[suite] = start_process([*cmd, "--workers", "2", "--no-access-log"], workdir)
        return started[suite].url

    yield url_of
    for server in started.values():
        assert server.stop() == 0, server.output()


@pytest.fixture(params=["in-process", "workers-2"])
async def run_example(
    request: pytest.FixtureRequest, http: aiohttp.ClientSession, worker_servers: Callable[[str], str]
) -> AsyncIterator[Callable[[str], Awaitable[Suite]]]:
    """``await run_example("engineio" | "socketio")``: the example's server for that suite, in this
    process, or run by ``aiosio run --workers 2`` (a new connection per request there, so requests
    land on either worker and every other one goes through the hand-off)."""
    runners: list[web.AppRunner] = []
    fresh: list[aiohttp.ClientSession] = []

    async def start(suite: str) -> Suite:
        if request.param == "workers-2":
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
            fresh.append(session)
            port = int(worker_servers(suite).rsplit(":", 1)[1])
            return Suite(session, port, SERVERS[suite][1])
        build, path = SERVERS[suite]
        runner = web.AppRunner(build(), shutdown_timeout=1.0)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return Suite(http, int(runner.addresses[0][1]), path)

    yield start
    for session in fresh:
        await session.close()
    for runner in reversed(runners):
        await asyncio.wait_for(runner.cleanup(), 5)


both = pytest.mark.parametrize("suite", ["engineio", "socketio"])


# -------------------------------------------- the Engine.IO checks, on the example's two servers


@both
async def test_handshake_polling_opens_a_session(run_example: Any, suite: str) -> None:
    s = await run_example(suite)
    status, body = await s.request("GET", s.eio("EIO=4&transport=polling"))
    assert status == 200 and body.startswith("0")
    value = json.loads(body[1:])
    assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == ["websocket"]
    assert (value["pingInterval"], value["pingTimeout"]) == (PING_INTERVAL_MS, PING_TIMEOUT_MS)
    assert value["maxPayload"] == MAX_PAYLOAD


@both
@pytest.mark.parametrize(
    "query", ["transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=abc"]
)
async def test_handshake_polling_invalid_query_is_400(run_example: Any, suite: str, query: str) -> None:
    s = await run_example(suite)
    assert (await s.request("GET", s.eio(query)))[0] == 400


@both
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_handshake_polling_invalid_method_is_400(run_example: Any, suite: str, method: str) -> None:
    """As the suite sends them: no sid, no body."""
    s = await run_example(suite)
    assert (await s.request(method, s.eio("EIO=4&transport=polling")))[0] == 400


@both
async def test_handshake_websocket_opens_a_session(run_example: Any, suite: str) -> None:
    s = await run_example(suite)
    ws = await s.websocket()
    data = await message(ws)
    assert data.startswith("0")
    value = json.loads(data[1:])
    assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == []
    assert (value["pingInterval"], value["pingTimeout"]) == (PING_INTERVAL_MS, PING_TIMEOUT_MS)
    assert value["maxPayload"] == MAX_PAYLOAD
    await ws.close()


@both
@pytest.mark.parametrize(
    "query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"]
)
async def test_handshake_websocket_invalid_query_is_refused(run_example: Any, suite: str, query: str) -> None:
    """The suite (``fix/waitfor``) awaits the socket's close: the upgrade is refused."""
    s = await run_example(suite)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await s.http.ws_connect(s.ws_url(query))
    assert info.value.status == 400


async def test_heartbeat_polling_ping_pong(run_example: Any) -> None:
    s = await run_example("socketio")
    sid = await s.polling_session()
    for _ in range(3):
        get = s.request("GET", s.sid_url(sid))
        assert await within(get, "ping", HEARTBEAT_TIMEOUT) == (200, "2")
        assert (await s.request("POST", s.sid_url(sid), data="3"))[0] == 200


async def test_heartbeat_polling_ping_timeout_closes_the_session(run_example: Any) -> None:
    """Exactly the suite's wait: pingInterval + pingTimeout after the handshake, the sid is gone."""
    s = await run_example("socketio")
    sid = await s.polling_session()
    await asyncio.sleep((PING_INTERVAL_MS + PING_TIMEOUT_MS) / 1000)
    assert (await s.request("GET", s.sid_url(sid)))[0] == 400


async def test_heartbeat_websocket_ping_pong(run_example: Any) -> None:
    s = await run_example("socketio")
    ws = await s.websocket()
    await message(ws)  # handshake
    for _ in range(3):
        assert await message(ws, HEARTBEAT_TIMEOUT) == "2"
        await ws.send_str("3")
    await ws.close()


async def test_heartbeat_websocket_ping_timeout_closes(run_example: Any) -> None:
    s = await run_example("socketio")
    ws = await s.websocket()
    await closed(ws, HEARTBEAT_TIMEOUT)


@both
async def test_close_polling_forcefully(run_example: Any, suite: str) -> None:
    """A GET and a POST of ``1`` sent together: the GET gets ``6``, then the sid is gone."""
    s = await run_example(suite)
    sid = await s.polling_session()
    poll, post = await within(
        asyncio.gather(
            s.request("GET", s.sid_url(sid)),
            s.request("POST", s.sid_url(sid), data="1"),
        ),
        "answers to the GET and the POST",
    )
    assert poll == (200, "6")
    assert post[0] == 200
    assert (await s.request("GET", s.sid_url(sid)))[0] == 400


@both
async def test_close_websocket_forcefully(run_example: Any, suite: str) -> None:
    s = await run_example(suite)
    ws = await s.websocket()
    await message(ws)
    await ws.send_str("1")
    await closed(ws)


@both
async def test_upgrade_from_polling_to_websocket(run_example: Any, suite: str) -> None:
    s = await run_example(suite)
    sid = await s.polling_session()
    ws = await s.websocket(f"EIO=4&transport=websocket&sid={sid}")
    await ws.send_str("2probe")
    assert await message(ws) == "3probe"
    assert await s.request("GET", s.sid_url(sid)) == (200, "6")
    await ws.send_str("5")
    if suite == "engineio":  # the echo server: data flows on the new transport
        await ws.send_str("4hello")
        await echoed(ws, "4hello")
    await ws.close()


@both
async def test_upgrade_ignores_http_requests_with_the_same_sid(run_example: Any, suite: str) -> None:
    """``2probe`` and ``5`` sent back to back, without waiting for ``3probe``, then a GET: 400."""
    s = await run_example(suite)
    sid = await s.polling_session()
    ws = await s.websocket(f"EIO=4&transport=websocket&sid={sid}")
    await ws.send_str("2probe")
    await ws.send_str("5")
    assert (await s.request("GET", s.sid_url(sid)))[0] == 400
    if suite == "engineio":
        await ws.send_str("4hello")
        await echoed(ws, "4hello")
    await ws.close()


@both
async def test_upgrade_ignores_a_second_websocket_with_the_same_sid(run_example: Any, suite: str) -> None:
    """The second WebSocket is accepted, then closed (the suite has no error listener on it)."""
    s = await run_example(suite)
    sid = await s.polling_session()
    ws = await s.websocket(f"EIO=4&transport=websocket&sid={sid}")
    await ws.send_str("2probe")
    await ws.send_str("5")
    second = await s.websocket(f"EIO=4&transport=websocket&sid={sid}")
    await closed(second)
    if suite == "engineio":
        await ws.send_str("4hello")
        await echoed(ws, "4hello")
    await ws.close()


# ---------------------------------------------------------------- the Socket.IO-only checks


async def test_disconnect_from_the_main_namespace(run_example: Any) -> None:
    """After ``41`` the connection stays open and the next frame is the server's ping ``2``."""
    s = await run_example("socketio")
    ws = await s.socketio_connection()
    await ws.send_str("41")
    assert await message(ws, HEARTBEAT_TIMEOUT) == "2"
    await ws.close()


async def test_no_handshake_closes_the_connection(run_example: Any) -> None:
    """A WebSocket that never sends a CONNECT (nor a pong) is closed within mocha's 2 s."""
    s = await run_example("socketio")
    ws = await s.websocket()
    await closed(ws)
