"""Integration: an in-process aiosio server with PyPI python-socketio's AsyncClient as the peer.

Most scenarios run in three transport modes (the ``mode`` fixture): WebSocket only, polling
only, and polling upgraded to WebSocket.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio  # python-socketio as the client peer only
from aiohttp import web

import aiosio

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0  # seconds: upper bound for any single expected event
TRANSPORTS: dict[str, list[str] | None] = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": None,
}


def ws_url(endpoint: str) -> str:
    """Engine.IO WebSocket URL (no sid) for an ``http://.../socket.io/`` endpoint."""
    return endpoint.replace("http://", "ws://") + "?EIO=4&transport=websocket"


def future() -> asyncio.Future[Any]:
    """A fresh future on the running loop."""
    return asyncio.get_running_loop().create_future()


async def open_client(
    client: socketio.AsyncClient, url: str, mode: str, **kwargs: Any
) -> socketio.AsyncClient:
    """Connect *client* to *url* in *mode* and check the transport it ends up on."""
    await client.connect(url, transports=TRANSPORTS[mode], wait_timeout=WAIT, **kwargs)
    assert client.transport() == ("polling" if mode == "polling" else "websocket")
    return client


async def test_connect_auth_and_sid(serve: Any, make_client: Any, mode: str) -> None:
    """Auth reaches ``connect(sid, environ, auth)``; client and server agree on the sid."""
    sio = aiosio.AsyncServer()
    seen: asyncio.Future[tuple[str, Any]] = future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.set_result((sid, auth))

    handle = await serve(sio)
    client = await open_client(make_client(), handle.url, mode, auth={"token": "t", "n": [1, 2]})
    sid, auth = await asyncio.wait_for(seen, WAIT)
    assert auth == {"token": "t", "n": [1, 2]}
    assert client.get_sid() == sid
    assert handle.handshakes == 1


async def test_connect_without_auth_passes_none(serve: Any, http: aiohttp.ClientSession) -> None:
    """A CONNECT packet without payload (``40``) -> ``auth is None`` (python-socketio semantics)."""
    sio = aiosio.AsyncServer()
    seen: asyncio.Future[Any] = future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.set_result(auth)

    handle = await serve(sio)
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40{")
        assert await asyncio.wait_for(seen, WAIT) is None


async def test_emit_in_connect_handler_follows_connect(serve: Any, make_client: Any, mode: str) -> None:
    """Packets emitted inside the connect handler are sent after the CONNECT reply.

    (python-socketio 5.18 sends them before the CONNECT packet; its own client then drops them.)
    """
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("welcome", {"sid": sid}, to=sid)

    handle = await serve(sio)
    client = make_client()
    order: list[str] = []
    welcomed: asyncio.Future[Any] = future()
    client.on("connect", lambda: order.append("connect"))

    @client.on("welcome")
    def welcome(data: Any) -> None:
        order.append("welcome")
        welcomed.set_result(data)

    await open_client(client, handle.url, mode)
    assert await asyncio.wait_for(welcomed, WAIT) == {"sid": client.get_sid()}
    assert order == ["connect", "welcome"]


async def test_connect_refused_with_data(serve: Any, make_client: Any, mode: str) -> None:
    """``ConnectionRefusedError('nope', data)`` -> client ``connect_error`` with both."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise aiosio.exceptions.ConnectionRefusedError("nope", {"code": 42})

    handle = await serve(sio)
    client = make_client()
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await open_client(client, handle.url, mode)
    assert errors == [{"message": "nope", "data": {"code": 42}}]
    assert not client.connected


async def test_events_and_acks_both_ways(serve: Any, make_client: Any, mode: str) -> None:
    """Client emit/call with acks; server emit/call with acks; multi-argument acks."""
    sio = aiosio.AsyncServer()
    fired: asyncio.Future[tuple[Any, ...]] = future()

    @sio.event
    async def add(sid: str, data: dict[str, int]) -> int:
        return data["a"] + data["b"]

    @sio.event
    async def multi(sid: str, x: Any, y: Any) -> tuple[Any, ...]:
        return y, x, None

    @sio.event
    async def fire(sid: str, *args: Any) -> None:
        fired.set_result(args)

    handle = await serve(sio)
    client = make_client()

    @client.event
    async def question(data: Any) -> Any:
        return {"answer": data["q"] * 2}

    @client.event
    def two(a: Any, b: Any) -> tuple[Any, Any]:
        return b, a

    await open_client(client, handle.url, mode)
    sid = client.get_sid()

    assert await client.call("add", {"a": 2, "b": 3}, timeout=WAIT) == 5
    got: asyncio.Future[tuple[Any, ...]] = future()
    await client.emit("multi", ("x", ["y"]), callback=lambda *a: got.set_result(a))
    assert await asyncio.wait_for(got, WAIT) == (["y"], "x", None)
    await client.emit("fire", (1, "ünï", {"k": [True, None]}))
    assert await asyncio.wait_for(fired, WAIT) == (1, "ünï", {"k": [True, None]})

    assert await sio.call("question", {"q": 21}, to=sid, timeout=WAIT) == {"answer": 42}
    acked: asyncio.Future[tuple[Any, ...]] = future()
    await sio.emit("two", (1, "b"), to=sid, callback=lambda *a: acked.set_result(a))
    assert await asyncio.wait_for(acked, WAIT) == ("b", 1)


async def test_binary_both_ways(serve: Any, make_client: Any, mode: str) -> None:
    """Nested bytes, several attachments, and a large (0.6 MB) payload in both directions."""
    sio = aiosio.AsyncServer()
    big = bytes(range(256)) * 2400  # 614 400 bytes: a large polling POST, under 1 MB

    @sio.event
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.event
    async def size(sid: str, blob: bytes) -> list[Any]:
        return [type(blob).__name__, len(blob), blob == big]

    handle = await serve(sio)
    client = make_client()

    @client.event
    def reflect(*args: Any) -> tuple[Any, ...]:
        return args

    await open_client(client, handle.url, mode)
    payload = {"a": b"\x00\x01", "list": [b"x", {"deep": b"\xff" * 3}, "s"], "n": 1}
    echoed = await client.call("echo", (b"\x10", payload), timeout=WAIT)
    assert tuple(echoed) == (b"\x10", payload)
    assert await client.call("size", big, timeout=WAIT) == ["bytes", len(big), True]
    back = await sio.call("reflect", (payload, b"\x01\x02"), to=client.get_sid(), timeout=WAIT)
    assert tuple(back) == (payload, b"\x01\x02")
    reflected = await sio.call("reflect", big, to=client.get_sid(), timeout=WAIT)
    assert isinstance(reflected, bytes) and len(reflected) == len(big) and reflected == big


async def test_rooms(serve: Any, make_client: Any, mode: str) -> None:
    """enter_room/leave_room/rooms/close_room, ``emit(to=room)`` and ``skip_sid``."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> list[str]:
        await sio.enter_room(sid, room)
        return sorted(sio.rooms(sid))

    handle = await serve(sio)
    inbox: dict[str, list[Any]] = {"a": [], "b": [], "c": []}
    marks: dict[str, asyncio.Queue[str]] = {k: asyncio.Queue() for k in inbox}
    clients: dict[str, socketio.AsyncClient] = {}
    for name in inbox:
        client = make_client()
        client.on("news", lambda data, name=name: inbox[name].append(data))
        client.on("mark", lambda tag, name=name: marks[name].put_nowait(tag))
        clients[name] = await open_client(client, handle.url, mode)
    sid = {name: c.get_sid() for name, c in clients.items()}

    async def barrier(tag: str) -> None:
        """Broadcast a marker and wait for everyone: earlier packets have then arrived too."""
        await sio.emit("mark", tag)
        for queue in marks.values():
            assert await asyncio.wait_for(queue.get(), WAIT) == tag

    assert await clients["a"].call("join", "r1", timeout=WAIT) == sorted([sid["a"], "r1"])
    assert await clients["b"].call("join", "r1", timeout=WAIT) == sorted([sid["b"], "r1"])
    await sio.enter_room(sid["c"], "r2")
    assert sorted(sio.rooms(sid["c"])) == sorted([sid["c"], "r2"])

    await sio.emit("news", 1, to="r1", skip_sid=sid["a"])
    await sio.emit("news", 2, room="r2")
    await sio.emit("news", 3, to=["r1", "r2"], skip_sid=[sid["b"]])
    await sio.emit("news", 4, to=sid["a"])
    await barrier("m1")
    assert inbox == {"a": [3, 4], "b": [1], "c": [2, 3]}

    await sio.leave_room(sid["b"], "r1")
    await sio.close_room("r2")
    await sio.emit("news", 5, to="r1")
    await sio.emit("news", 6, to="r2")
    await barrier("m2")
    assert inbox == {"a": [3, 4, 5], "b": [1], "c": [2, 3]}
    assert sio.rooms(sid["c"]) == [sid["c"]]


async def test_namespaces(serve: Any, make_client: Any, mode: str) -> None:
    """``/`` and ``/chat`` on one Engine.IO connection, each with its own sid and handlers."""
    sio = aiosio.AsyncServer()
    sids: dict[str, str] = {}

    @sio.on("connect")
    async def connect_main(sid: str, environ: dict[str, Any], auth: Any) -> None:
        sids["/"] = sid

    @sio.on("connect", namespace="/chat")
    async def connect_chat(sid: str, environ: dict[str, Any], auth: Any) -> None:
        sids["/chat"] = sid

    @sio.on("where")
    async def where_main(sid: str) -> str:
        return "main"

    @sio.on("where", namespace="/chat")
    async def where_chat(sid: str) -> str:
        return "chat"

    handle = await serve(sio)
    client = make_client()
    chat_inbox: asyncio.Future[Any] = future()
    client.on("only", lambda data: chat_inbox.set_result(("main", data)))
    client.on("only", lambda data: chat_inbox.set_result(("chat", data)), namespace="/chat")
    await open_client(client, handle.url, mode, namespaces=["/", "/chat"])
    assert client.get_sid("/") == sids["/"]
    assert client.get_sid("/chat") == sids["/chat"]
    assert sids["/"] != sids["/chat"]
    assert handle.handshakes == 1
    assert await client.call("where", timeout=WAIT) == "main"
    assert await client.call("where", namespace="/chat", timeout=WAIT) == "chat"
    await sio.emit("only", "x", to=sids["/chat"], namespace="/chat")
    assert await asyncio.wait_for(chat_inbox, WAIT) == ("chat", "x")


async def test_unknown_namespace_refused(serve: Any, make_client: Any, mode: str) -> None:
    """Connecting to a namespace with no handlers fails with a connect_error."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        pass

    handle = await serve(sio)
    client = make_client()
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data), namespace="/nope")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await open_client(client, handle.url, mode, namespaces=["/", "/nope"])
    assert errors == [{"message": "Invalid namespace"}]


async def test_disconnect_reasons(serve: Any, make_client: Any, mode: str) -> None:
    """Server-initiated and client-initiated disconnects report the right reasons."""
    sio = aiosio.AsyncServer()
    reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        reasons.put_nowait((sid, reason))

    handle = await serve(sio)
    first = make_client()
    first_gone: asyncio.Future[Any] = future()
    first.on("disconnect", lambda reason: first_gone.set_result(reason))
    await open_client(first, handle.url, mode)
    sid = first.get_sid()
    await sio.disconnect(sid)
    assert await asyncio.wait_for(first_gone, WAIT) == first.reason.SERVER_DISCONNECT
    assert await asyncio.wait_for(reasons.get(), WAIT) == (sid, sio.reason.SERVER_DISCONNECT)

    second = await open_client(make_client(), handle.url, mode)
    sid = second.get_sid()
    await second.disconnect()
    gone_sid, reason = await asyncio.wait_for(reasons.get(), WAIT)
    assert gone_sid == sid
    if mode == "polling":
        assert reason == sio.reason.CLIENT_DISCONNECT
    else:
        # python-socketio's client queues "41" then closes the WebSocket without waiting for
        # its write loop, so the server may legitimately see the transport close first.
        assert reason in (sio.reason.CLIENT_DISCONNECT, sio.reason.TRANSPORT_CLOSE)
    assert sio.reason.CLIENT_DISCONNECT == "client disconnect"
    assert sio.reason.SERVER_DISCONNECT == "server disconnect"


async def test_disconnect_packet_reason_is_client_disconnect(serve: Any, http: aiohttp.ClientSession) -> None:
    """A Socket.IO DISCONNECT packet (``41``) -> ``client disconnect``, transport still open."""
    sio = aiosio.AsyncServer()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        reasons.put_nowait(reason)

    handle = await serve(sio)
    async with http.ws_connect(ws_url(handle.endpoint)) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40{")
        await ws.send_str("41")
        assert await asyncio.wait_for(reasons.get(), WAIT) == sio.reason.CLIENT_DISCONNECT
        await ws.send_str("40")  # the Engine.IO connection is still usable
        assert (await ws.receive_str()).startswith("40{")


async def test_ping_timeout_and_transport_close_reasons(serve: Any, http: Any) -> None:
    """A silent raw WebSocket peer -> ``ping timeout``; an abruptly closed one -> ``transport
    close``."""
    sio = aiosio.AsyncServer(ping_interval=0.2, ping_timeout=0.2)
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        reasons.put_nowait(reason)

    handle = await serve(sio)
    url = ws_url(handle.endpoint)
    async with http.ws_connect(url) as ws:  # never answers pings
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")
        assert await asyncio.wait_for(reasons.get(), WAIT) == sio.reason.PING_TIMEOUT

    async with http.ws_connect(url) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")
        await ws.close()
    assert await asyncio.wait_for(reasons.get(), WAIT) == sio.reason.TRANSPORT_CLOSE


async def test_sessions(serve: Any, make_client: Any, mode: str) -> None:
    """``save_session``/``get_session``/``async with session()`` per sid and per namespace."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.save_session(sid, {"user": auth["user"], "hits": 0})

    @sio.on("connect", namespace="/other")
    async def connect_other(sid: str, environ: dict[str, Any], auth: Any) -> None:
        pass

    @sio.event
    async def hit(sid: str) -> int:
        async with sio.session(sid) as session:
            session["hits"] += 1
            return int(session["hits"])

    @sio.event
    async def whoami(sid: str) -> Any:
        return await sio.get_session(sid)

    @sio.on("whoami", namespace="/other")
    async def whoami_other(sid: str) -> Any:
        return await sio.get_session(sid, namespace="/other")

    handle = await serve(sio)
    alice = await open_client(
        make_client(), handle.url, mode, auth={"user": "alice"}, namespaces=["/", "/other"]
    )
    bob = await open_client(make_client(), handle.url, mode, auth={"user": "bob"})
    assert await alice.call("hit", timeout=WAIT) == 1
    assert await alice.call("hit", timeout=WAIT) == 2
    assert await bob.call("hit", timeout=WAIT) == 1
    assert await alice.call("whoami", timeout=WAIT) == {"user": "alice", "hits": 2}
    assert await bob.call("whoami", timeout=WAIT) == {"user": "bob", "hits": 1}
    assert await alice.call("whoami", namespace="/other", timeout=WAIT) == {}
    await sio.save_session(bob.get_sid(), {"user": "robert"})
    assert await sio.get_session(bob.get_sid()) == {"user": "robert"}


async def test_call_timeouts(serve: Any, make_client: Any) -> None:
    """An unanswered ``call`` raises TimeoutError on the server and on the client."""
    sio = aiosio.AsyncServer()
    release = asyncio.Event()

    @sio.event
    async def stall(sid: str) -> str:
        await release.wait()
        return "late"

    handle = await serve(sio)
    client = make_client()

    @client.event
    async def stall_client() -> str:
        await release.wait()
        return "late"

    await client.connect(handle.url, wait_timeout=WAIT)
    try:
        with pytest.raises(aiosio.exceptions.TimeoutError):
            await sio.call("stall_client", to=client.get_sid(), timeout=0.3)
        with pytest.raises(socketio.exceptions.TimeoutError):
            await client.call("stall", timeout=0.3)
        assert client.connected  # a timed-out call does not break the connection
    finally:
        release.set()


async def test_environ(serve: Any, make_client: Any, mode: str) -> None:
    """WSGI-style environ keys and the aiohttp request are passed to ``connect``."""
    sio = aiosio.AsyncServer()
    seen: asyncio.Future[dict[str, Any]] = future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.set_result(environ)

    handle = await serve(sio)
    await open_client(make_client(), handle.url + "?room=lobby&x=1", mode, headers={"X-Custom-Thing": "yes"})
    environ = await asyncio.wait_for(seen, WAIT)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"] == "/socket.io/"
    assert environ["HTTP_X_CUSTOM_THING"] == "yes"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{handle.port}"
    query = environ["QUERY_STRING"]
    assert "room=lobby" in query and "x=1" in query and "EIO=4" in query
    first_transport = "websocket" if mode == "websocket" else "polling"
    assert f"transport={first_transport}" in query
    request = environ["aiohttp.request"]
    assert isinstance(request, web.BaseRequest)
    assert request.query["room"] == "lobby"


async def test_catch_all_handlers(serve: Any, make_client: Any, mode: str) -> None:
    """``'*'`` event handlers, and ``namespace='*'`` handlers for any namespace."""
    sio = aiosio.AsyncServer(namespaces="*")
    caught: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @sio.on("connect", namespace="*")
    async def connect_any(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        caught.put_nowait(("connect", namespace))

    @sio.on("specific")
    async def specific(sid: str, data: Any) -> str:
        return f"specific:{data}"

    @sio.on("*")
    async def any_event(event: str, sid: str, data: Any) -> str:
        caught.put_nowait(("main", event, data))
        return f"main:{event}"

    @sio.on("*", namespace="*")
    async def any_namespace_event(event: str, namespace: str, sid: str, data: Any) -> str:
        caught.put_nowait(("any", namespace, event, data))
        return f"{namespace}:{event}"

    handle = await serve(sio)
    client = await open_client(make_client(), handle.url, mode, namespaces=["/", "/dyn"])
    assert {await caught.get(), await caught.get()} == {("connect", "/"), ("connect", "/dyn")}
    assert await client.call("specific", 1, timeout=WAIT) == "specific:1"
    assert await client.call("whatever", 2, timeout=WAIT) == "main:whatever"
    assert await caught.get() == ("main", "whatever", 2)
    assert await client.call("thing", 3, namespace="/dyn", timeout=WAIT) == "/dyn:thing"
    assert await caught.get() == ("any", "/dyn", "thing", 3)


async def test_async_namespace_class(serve: Any, make_client: Any, mode: str) -> None:
    """Class-based handlers (``aiosio.AsyncNamespace``) with emit/rooms/session helpers."""
    events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    class Chat(aiosio.AsyncNamespace):  # type: ignore[misc]
        async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
            await self.save_session(sid, {"nick": auth["nick"]})
            await self.enter_room(sid, "lobby")
            events.put_nowait(("connect", sid))

        async def on_say(self, sid: str, text: str) -> str:
            session = await self.get_session(sid)
            await self.emit("said", {"from": session["nick"], "text": text}, room="lobby")
            return "ok"

        async def on_disconnect(self, sid: str, reason: str) -> None:
            events.put_nowait(("disconnect", sid, reason))

    sio = aiosio.AsyncServer()
    sio.register_namespace(Chat("/chat"))
    handle = await serve(sio)
    client = make_client()
    said: asyncio.Future[Any] = future()
    client.on("said", lambda data: said.set_result(data), namespace="/chat")
    await open_client(client, handle.url, mode, namespaces=["/chat"], auth={"nick": "zed"})
    sid = client.get_sid("/chat")
    assert await asyncio.wait_for(events.get(), WAIT) == ("connect", sid)
    assert await client.call("say", "hi", namespace="/chat", timeout=WAIT) == "ok"
    assert await asyncio.wait_for(said, WAIT) == {"from": "zed", "text": "hi"}
    await sio.disconnect(sid, namespace="/chat")
    assert await asyncio.wait_for(events.get(), WAIT) == (
        "disconnect",
        sid,
        sio.reason.SERVER_DISCONNECT,
    )


async def test_shutdown_disconnects_everyone(serve: Any, make_client: Any) -> None:
    """``await sio.shutdown()`` disconnects every client, whatever its transport."""
    sio = aiosio.AsyncServer()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        server_reasons.put_nowait(reason)

    handle = await serve(sio)
    gone: list[asyncio.Future[Any]] = []
    clients = []
    for mode in TRANSPORTS:
        client = make_client()
        fut: asyncio.Future[Any] = future()
        client.on("disconnect", lambda reason, fut=fut: fut.set_result(reason))
        gone.append(fut)
        clients.append(await open_client(client, handle.url, mode))

    await asyncio.wait_for(sio.shutdown(), WAIT)
    await asyncio.wait_for(asyncio.gather(*gone), WAIT)
    assert not any(c.connected for c in clients)
    reasons = [await asyncio.wait_for(server_reasons.get(), WAIT) for _ in clients]
    # python-socketio reports "server disconnect"; aiosio has a dedicated SERVER_SHUTDOWN.
    expected = getattr(sio.reason, "SERVER_SHUTDOWN", sio.reason.SERVER_DISCONNECT)
    assert reasons == [expected] * len(clients)


async def test_polling_post_over_max_http_buffer_size_is_413(serve: Any, http: aiohttp.ClientSession) -> None:
    """A polling POST larger than ``max_http_buffer_size`` gets HTTP 413."""
    sio = aiosio.AsyncServer(max_http_buffer_size=1000)
    handle = await serve(sio)
    async with http.get(handle.endpoint, params={"EIO": "4", "transport": "polling"}) as resp:
        assert resp.status == 200
        text = await resp.text()
    handshake = json.loads(text[1:])
    assert handshake["maxPayload"] == 1000
    params = {"EIO": "4", "transport": "polling", "sid": handshake["sid"]}
    async with http.post(handle.endpoint, params=params, data="6") as resp:  # a noop fits
        assert resp.status == 200
    async with http.post(handle.endpoint, params=params, data='42["x","' + "y" * 2000 + '"]') as r:
        assert r.status == 413
