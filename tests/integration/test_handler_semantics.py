"""How handlers run: isolation from the connection, acceptance before events, disconnect, limits."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

import aiosio

pytestmark = pytest.mark.timeout(30)


async def _raw_ws(http: aiohttp.ClientSession, endpoint: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(endpoint.replace("http", "ws") + "?EIO=4&transport=websocket")
    opening = await ws.receive_str()
    assert opening.startswith("0")
    return ws


async def _next(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3) -> str:
    """The next text frame that is not a PING (answered)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        if msg.data == "2":
            await ws.send_str("3")
            continue
        return str(msg.data)


async def test_events_before_the_connect_handler_accepts_are_not_handled(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    handled: list[str] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        await asyncio.sleep(0.2)
        return bool(auth and auth.get("token") == "good")

    @sio.event
    async def delete_everything(sid: str) -> str:
        handled.append(sid)
        return "done"

    handle = await serve(sio)
    async with aiohttp.ClientSession() as http:
        ws = await _raw_ws(http, handle.endpoint)
        await ws.send_str('40{"token":"bad"}')
        await ws.send_str('421["delete_everything"]')
        assert (await _next(ws)).startswith("44")
        await asyncio.sleep(0.1)
        await ws.close()
    assert handled == []


async def test_a_timeout_inside_a_handler_cancels_the_handler_not_the_connection(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    outcome: list[str] = []

    @sio.event
    async def slow(sid: str) -> str:
        try:
            async with asyncio.timeout(0.2):
                await asyncio.sleep(2)
        except TimeoutError:
            outcome.append("handler timed out")
        return "after"

    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=["websocket"])
    try:
        assert await client.call("slow", timeout=5) == "after"
        assert client.connected
    finally:
        await client.disconnect()
    assert outcome == ["handler timed out"]


@pytest.mark.allow_server_errors(r"aiosio\.server ERROR: cannot send the ack of .*not JSON serializable")
async def test_an_ack_json_cannot_carry_is_logged_and_the_connection_lives(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def bad(sid: str) -> Any:
        return {1, 2}  # a set: not JSON

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=["websocket"])
    try:
        with pytest.raises(aiosio.exceptions.TimeoutError):
            await client.call("bad", timeout=0.5)
        assert await client.call("echo", 7, timeout=5) == 7
    finally:
        await client.disconnect()
    assert any("cannot send the ack" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("aiohttp"))


async def test_handlers_waiting_on_acks_at_the_inflight_cap_do_not_deadlock(serve: Any) -> None:
    sio = aiosio.AsyncServer(max_inflight=2)

    @sio.event
    async def ask(sid: str, n: int) -> Any:
        return await sio.call("question", n, to=sid, timeout=5)

    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)

    @client.event
    def question(n: int) -> int:
        return n * 10

    await client.connect(handle.url, transports=["websocket"])
    try:
        answers = await asyncio.gather(*(client.call("ask", n, timeout=10) for n in range(6)))
    finally:
        await client.disconnect()
    assert answers == [n * 10 for n in range(6)]


async def test_the_disconnect_handler_keeps_the_session_and_rooms_across_awaits(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    seen: list[Any] = []
    done = asyncio.Event()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.save_session(sid, {"user": "ada"})
        await sio.enter_room(sid, "lobby")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        await asyncio.sleep(0.05)
        async with sio.session(sid) as session:
            seen.append(session["user"])
        seen.append(sio.rooms(sid))
        done.set()

    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=["websocket"])
    sid = client.get_sid()
    await client.disconnect()
    await asyncio.wait_for(done.wait(), 5)
    assert seen == ["ada", [sid, "lobby"]]
    await asyncio.sleep(0.05)
    assert sio.rooms(sid) == []


async def test_disconnect_during_the_connect_handler_refuses_the_client(serve: Any) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.disconnect(sid)

    handle = await serve(sio)
    async with aiohttp.ClientSession() as http:
        ws = await _raw_ws(http, handle.endpoint)
        await ws.send_str("40")
        reply = await _next(ws)
        await ws.close()
    assert reply.startswith("44")
    assert orjson.loads(reply[2:])["message"]


async def test_namespaces_chosen_by_clients_leave_nothing_behind(serve: Any) -> None:
    sio = aiosio.AsyncServer(namespaces="*")
    handle = await serve(sio)
    async with aiohttp.ClientSession() as http:
        ws = await _raw_ws(http, handle.endpoint)
        for i in range(50):
            await ws.send_str(f"40/n{i},")
            assert (await _next(ws)).startswith(f"40/n{i},")
            await ws.send_str(f"41/n{i},")
        await ws.send_str("40")
        assert (await _next(ws)).startswith("40")
        assert list(sio.manager.get_namespaces()) == ["/"]
        await ws.close()


async def test_a_refused_engineio_connection_gets_no_disconnect_event(serve: Any) -> None:
    eio = aiosio.engineio.AsyncServer()
    events: list[str] = []
    eio.on("connect", lambda sid, environ: False)
    eio.on("disconnect", lambda sid: events.append(sid))
    handle = await serve(eio, engineio_path="engine.io")
    async with (
        aiohttp.ClientSession() as http,
        http.get(handle.endpoint + "?EIO=4&transport=polling") as response,
    ):
        assert response.status == 403
    await asyncio.sleep(0.05)
    assert events == []
