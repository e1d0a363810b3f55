"""aiosio.testing's client API against a real AsyncServer, in-process: connect, emit, call, receive.

Every test runs on both ways a test client reaches the engine (an in-memory WebSocket sink and the
long-polling interface), so the guarantees hold whichever the server allows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio import exceptions
from aiosio.testing import NamespaceRefusedError, TestClient, TestServer

pytestmark = pytest.mark.parametrize("transport", ["websocket", "polling"])


async def test_connect_sees_auth_headers_query_and_a_real_looking_environ(transport: str) -> None:
    sio = aiosio.AsyncServer()
    seen: dict[str, Any] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.update(sid=sid, environ=environ, auth=auth)

    async with TestServer(sio) as server:
        client = await server.connect(
            auth={"token": "t0k"},
            headers={"X-Api-Key": "k1", "User-Agent": "pytest"},
            query={"room": "lobby", "n": 3},
            transport=transport,
        )
        assert seen["auth"] == {"token": "t0k"}
        environ = seen["environ"]
        assert environ["REMOTE_ADDR"] == "127.0.0.1"
        assert environ["HTTP_X_API_KEY"] == "k1"
        assert environ["HTTP_USER_AGENT"] == "pytest"
        assert environ["HTTP_HOST"] == "localhost"
        assert environ["QUERY_STRING"] == f"room=lobby&n=3&EIO=4&transport={transport}"
        assert environ["REQUEST_METHOD"] == "GET"
        assert environ["PATH_INFO"] == "/socket.io/"
        assert environ["aiosio.testing"] is True
        # The same environ, later, from the server's API; and the sid the handler got is the client's.
        assert sio.get_environ(client.sid) is environ
        assert seen["sid"] == client.sid == client.get_sid("/")
        assert client.eio_sid in sio.eio.sockets
        assert sio.transport(client.sid) == transport == client.transport()
        assert client.connected
        # Node-style handshake (fetch_sockets) built from it.
        [remote] = await sio.fetch_sockets()
        assert remote.handshake["query"] == {"room": "lobby", "n": "3", "EIO": "4", "transport": transport}
        assert remote.handshake["headers"]["x-api-key"] == "k1"
        assert remote.handshake["address"] == "127.0.0.1"
        assert remote.handshake["auth"] == {"token": "t0k"}


async def test_no_auth_is_none_for_the_handler(transport: str) -> None:
    sio = aiosio.AsyncServer()
    got: list[Any] = []
    sio.on("connect", lambda sid, environ, auth: got.append(auth))
    async with TestServer(sio) as server:
        await server.connect(transport=transport)
    assert got == [None]


async def test_emit_call_and_receive(transport: str) -> None:
    sio = aiosio.AsyncServer()
    handled: list[Any] = []

    @sio.event
    async def note(sid: str, *args: Any) -> None:
        handled.append(args)
        await sio.emit("noted", {"n": len(handled)}, to=sid)

    @sio.event
    async def add(sid: str, a: int, b: int) -> tuple[int, str]:
        return a + b, "sum"

    @sio.event
    async def one(sid: str) -> str:
        return "only"

    @sio.event
    async def none(sid: str) -> None:
        return None

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        await client.emit("note", ("x", 1))
        got = await client.receive(timeout=2)
        assert (got.event, got.args, got.namespace, got.data) == ("noted", [{"n": 1}], "/", {"n": 1})
        assert handled == [("x", 1)]
        assert await client.call("add", (2, 3)) == (5, "sum")
        assert await client.call("one") == "only"
        assert await client.call("none") is None
        await client.send("hello")  # the 'message' event, no handler: nothing comes back
        with pytest.raises(exceptions.TimeoutError):
            await client.receive(timeout=0.05)
        assert [r.event for r in client.received] == ["noted"]


async def test_call_times_out_when_nothing_acks(transport: str) -> None:
    sio = aiosio.AsyncServer()
    release = asyncio.Event()

    @sio.event
    async def slow(sid: str) -> str:
        await release.wait()
        return "late"

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(exceptions.TimeoutError):
            await client.call("slow", timeout=0.2)
        assert loop.time() - started >= 0.19
        release.set()
        # A late ack is ignored, and the connection goes on.
        assert await client.call("slow") == "late"


async def test_receive_filters_by_event_and_namespace_and_keeps_the_rest(transport: str) -> None:
    sio = aiosio.AsyncServer(namespaces=["/", "/chat"])

    @sio.event
    async def burst(sid: str) -> None:
        await sio.emit("a", 1, to=sid)
        await sio.emit("b", 2, to=sid)
        await sio.emit("a", 3, to=sid)

    @sio.on("burst", namespace="/chat")
    async def chat_burst(sid: str) -> None:
        await sio.emit("a", 4, to=sid, namespace="/chat")

    async with TestServer(sio) as server:
        client = await server.connect(["/", "/chat"], transport=transport)
        await client.emit("burst")
        await client.emit("burst", namespace="/chat")
        assert (await client.receive("a", namespace="/chat")).data == 4
        assert (await client.receive("b")).data == 2
        assert (await client.receive("a")).data == 1
        assert (await client.receive()).data == 3
        assert [(r.event, r.data, r.namespace) for r in client.received] == [
            ("a", 1, "/"),
            ("b", 2, "/"),
            ("a", 3, "/"),
            ("a", 4, "/chat"),
        ]


async def test_binary_payloads_both_ways(transport: str) -> None:
    sio = aiosio.AsyncServer()
    blob = bytes(range(256)) * 3

    @sio.event
    async def upload(sid: str, meta: dict[str, Any], data: bytes) -> dict[str, Any]:
        await sio.emit("download", {"name": meta["name"], "parts": [data[:10], data[10:]]}, to=sid)
        return {"size": len(data), "head": data[:4]}

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        ack = await client.call("upload", ({"name": "f"}, blob))
        assert ack == {"size": len(blob), "head": blob[:4]}
        down = await client.receive("download")
        assert down.data["name"] == "f"
        assert b"".join(down.data["parts"]) == blob
        assert all(isinstance(p, bytes) for p in down.data["parts"])


async def test_refused_connections_raise_with_the_servers_message(transport: str) -> None:
    sio = aiosio.AsyncServer(namespaces=["/", "/vip", "/plain"])

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not auth or auth.get("token") != "ok":
            raise exceptions.ConnectionRefusedError("bad token", {"hint": "send token=ok"})

    @sio.on("connect", namespace="/plain")
    def plain(sid: str, environ: dict[str, Any]) -> bool:
        return False

    async with TestServer(sio) as server:
        with pytest.raises(NamespaceRefusedError) as refused:
            await server.connect(auth={"token": "no"}, transport=transport)
        assert isinstance(refused.value, exceptions.ConnectionError)
        assert str(refused.value) == "bad token" == refused.value.message
        assert refused.value.namespace == "/"
        assert refused.value.data == {"hint": "send token=ok"}

        with pytest.raises(NamespaceRefusedError, match=r"^Connection rejected by server$"):
            await server.connect("/plain", transport=transport)
        with pytest.raises(NamespaceRefusedError, match=r"^Invalid namespace$"):
            await server.connect("/nowhere", transport=transport)

        # One refused namespace fails the whole connect, and leaves nothing connected behind.
        client = TestClient(sio, transport=transport)
        with pytest.raises(NamespaceRefusedError) as refused:
            await client.connect(["/vip", "/plain"], auth={"token": "ok"})
        assert refused.value.namespace == "/plain"
        assert not client.connected
        await asyncio.sleep(0.01)
        assert sio.eio.sockets == {}

        ok = await server.connect(auth={"token": "ok"}, transport=transport)
        assert ok.connected


async def test_a_shut_down_server_is_a_connection_error_naming_the_shutdown(transport: str) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio):
        pass
    # A server that shut down refuses new connections before any namespace; the error says why.
    client = TestClient(sio, transport=transport)
    with pytest.raises(exceptions.ConnectionError, match="the server was shut down"):
        await client.connect()
    assert not client.connected and sio.eio.sockets == {}


async def test_namespaces_each_with_its_own_sid_and_handlers(transport: str) -> None:
    sio = aiosio.AsyncServer()
    joined: list[tuple[str, str]] = []

    @sio.on("connect", namespace="/a")
    def connect_a(sid: str, environ: dict[str, Any]) -> None:
        joined.append(("/a", sid))

    @sio.on("connect", namespace="/b")
    def connect_b(sid: str, environ: dict[str, Any]) -> None:
        joined.append(("/b", sid))

    @sio.on("where", namespace="/a")
    def where_a(sid: str) -> str:
        return "a"

    @sio.on("where", namespace="/b")
    def where_b(sid: str) -> str:
        return "b"

    async with TestServer(sio) as server:
        client = await server.connect(["/a", "/b"], transport=transport)
        assert sorted(joined) == sorted([("/a", client.get_sid("/a")), ("/b", client.get_sid("/b"))])
        assert client.get_sid("/a") != client.get_sid("/b")
        assert client.get_sid("/") is None
        assert client.sid == client.get_sid("/a")
        assert await client.call("where", namespace="/a") == "a"
        assert await client.call("where", namespace="/b") == "b"
        with pytest.raises(exceptions.BadNamespaceError):
            await client.emit("where")  # '/' was never joined
        await client.disconnect("/a")
        assert client.connected and list(client.namespaces) == ["/b"]
        assert client.disconnect_reasons == {"/a": "client disconnect"}
        with pytest.raises(exceptions.BadNamespaceError):
            await client.call("where", namespace="/a")
        assert await client.call("where", namespace="/b") == "b"


async def test_session_data_lives_on_the_server(transport: str) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def login(sid: str, name: str) -> None:
        async with sio.session(sid) as session:
            session["name"] = name

    @sio.event
    async def whoami(sid: str) -> str:
        return str((await sio.get_session(sid))["name"])

    async with TestServer(sio) as server:
        alice = await server.connect(transport=transport)
        bob = await server.connect(transport=transport)
        await alice.emit("login", "alice")
        await bob.call("login", "bob")
        await alice.wait_idle()
        assert (await sio.get_session(alice.sid)) == {"name": "alice"}
        assert await alice.call("whoami") == "alice"
        assert await bob.call("whoami") == "bob"


async def test_server_calls_the_client_handler_and_manual_acks(transport: str) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)

        @client.on("ask")
        async def answer(question: str) -> tuple[str, int]:
            return f"re: {question}", 42

        assert await sio.call("ask", "why?", to=client.sid, timeout=2) == ("re: why?", 42)
        # An event without a handler waits in `received` for the test to acknowledge it.
        task = asyncio.create_task(sio.call("confirm", {"id": 7}, to=client.sid, timeout=2))
        item = await client.receive("confirm")
        assert item.wants_ack and item.data == {"id": 7}
        await item.ack("yes", b"\x01")
        assert await task == ("yes", b"\x01")
        assert not item.wants_ack
        with pytest.raises(RuntimeError):
            await item.ack("twice")
        # emit(callback=) on the server: called back once.
        got: list[Any] = []
        done = asyncio.Event()

        def callback(*args: Any) -> None:
            got.append(args)
            done.set()

        await sio.emit("ask", "emit?", to=client.sid, callback=callback)
        await asyncio.wait_for(done.wait(), 2)
        assert got == [("re: emit?", 42)]
        # The client's own emit(callback=) too.
        answers: list[Any] = []
        sio.on("double", lambda sid, x: x * 2)
        await client.emit("double", 21, callback=lambda value: answers.append(value))
        await client.wait_idle()
        await asyncio.sleep(0.01)
        assert answers == [42]


async def test_catch_all_client_handler(transport: str) -> None:
    sio = aiosio.AsyncServer()
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        seen: list[tuple[Any, ...]] = []
        client.on("*", lambda event, *args: seen.append((event, *args)))
        await client.connect()
        await sio.emit("one", (1, 2))
        await client.receive("one")
        await asyncio.sleep(0)
        assert seen == [("one", 1, 2)]


async def test_wait_idle_waits_for_the_handlers(transport: str) -> None:
    sio = aiosio.AsyncServer()
    done: list[int] = []

    @sio.event
    async def work(sid: str, n: int) -> None:
        await asyncio.sleep(0.05)
        done.append(n)

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        for n in range(3):
            await client.emit("work", n)
        assert done == []
        await client.wait_idle()
        assert sorted(done) == [0, 1, 2]


async def test_the_client_answers_the_servers_pings(transport: str) -> None:
    # The engine's heartbeat runs as in production: a client that did not answer PINGs would be
    # closed ('ping timeout') after ping_interval + ping_timeout (0.3 s here).
    sio = aiosio.AsyncServer(ping_interval=0.1, ping_timeout=0.2)
    reasons: list[str] = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        await asyncio.sleep(1.0)
        assert client.connected and reasons == []


async def test_the_servers_serializer_is_the_clients(transport: str) -> None:
    # The client speaks the server's codec: msgpack packets are single binary messages.
    sio = aiosio.AsyncServer(serializer="msgpack")

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        await sio.emit("echoed", data, to=sid)
        return data

    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        payload = {"n": 1, "raw": b"\x00\xff", "list": [1.5, None, "x"]}
        assert await client.call("echo", payload) == payload
        assert (await client.receive("echoed")).data == payload


async def test_a_connection_the_server_closes_while_connecting(transport: str) -> None:
    sio = aiosio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.eio.disconnect(sio.manager.eio_sid_from_sid(sid, "/"))

    async with TestServer(sio) as server:
        with pytest.raises(
            exceptions.ConnectionError, match=r"Connection lost while connecting \(transport close\)"
        ):
            await server.connect(transport=transport)


async def test_a_namespace_not_answered_in_time(transport: str) -> None:
    sio = aiosio.AsyncServer()
    release = asyncio.Event()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await release.wait()

    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        with pytest.raises(
            exceptions.ConnectionError, match=r"Timed out after 0.2s waiting for namespaces: /"
        ):
            await client.connect(wait_timeout=0.2)
        assert not client.connected
        release.set()
