"""Events around ``connect``: held until the namespace is joined and its connect handler has finished.

python-socketio's server sends what its connect handler emits *before* the CONNECT reply; aiosio's and
Node's send it after. Either way the client's handlers see ``connect`` first, then the events in the
order they arrived, and ``disconnect`` only once ``connect`` has finished.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from aiohttp import web

from aiosio.client import AsyncClient, AsyncClientNamespace, AsyncSimpleClient
from aiosio.exceptions import ConnectionError as ConnectionError_

from .conftest import AUTH, until
from .test_peers import make_client

pytestmark = pytest.mark.timeout(60)

_greets = itertools.count()


def greet_auth() -> tuple[dict[str, Any], str]:
    """An auth payload asking the peer to greet from its connect handler, and the greeting's token."""
    token = f"hello-{next(_greets)}-{id(object())}"
    return {**AUTH, "greet": token}, token


def expected_greetings(token: str) -> list[Any]:
    return [("greeting", token), ("greeting", token, b"\x01\x02"), ("greeting_ack", token)]


def record_greetings(client: AsyncClient, log: list[Any], namespace: str = "/") -> None:
    def greeting(*args: Any) -> None:
        log.append(("greeting", *args))

    async def greeting_ack(token: str) -> str:
        log.append(("greeting_ack", token))
        return "thanks"

    client.on("greeting", greeting, namespace=namespace)
    client.on("greeting_ack", greeting_ack, namespace=namespace)


async def test_greeting_from_the_connect_handler_arrives_after_connect(
    peer: Any, mode: str, transports: Any
) -> None:
    """python-socketio's ``app.py`` case: text, binary and an event asking for an ack, all greeted."""
    client = make_client()
    log: list[Any] = []
    client.on("connect", lambda: log.append("connect"))
    record_greetings(client, log)
    auth, token = greet_auth()
    await client.connect(peer.url, auth=auth, transports=transports, wait_timeout=5)
    try:
        await until(lambda: len(log) == 4)
        assert log == ["connect", *expected_greetings(token)]
        # The ack of an event held before connect reaches the server.
        for _ in range(50):
            if ["ack", token, "thanks"] in await client.call("get_stored", timeout=5):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the server never got the acknowledgement of greeting_ack")
    finally:
        await client.disconnect()


async def test_events_wait_for_an_async_connect_handler(peer: Any, transports: Any) -> None:
    """Plain and async event handlers start only once ``async def connect`` has returned; acks and
    calls made from the connect handler are not held."""
    client = make_client()
    log: list[Any] = []

    @client.event
    async def connect() -> None:
        log.append("connect start")
        assert await client.call("echo", "from connect", timeout=5) == "from connect"
        await asyncio.sleep(0.2)
        log.append("connect end")

    record_greetings(client, log)
    auth, token = greet_auth()
    await client.connect(peer.url, auth=auth, transports=transports, wait_timeout=5)
    try:
        await until(lambda: len(log) == 5)
        assert log == ["connect start", "connect end", *expected_greetings(token)]
    finally:
        await client.disconnect()


async def test_class_namespace_sees_connect_first(peer: Any, transports: Any) -> None:
    log: list[Any] = []

    class Root(AsyncClientNamespace):
        async def on_connect(self) -> None:
            await asyncio.sleep(0.1)
            log.append("connect")

        def on_greeting(self, *args: Any) -> None:
            log.append(("greeting", *args))

        async def on_greeting_ack(self, token: str) -> str:
            log.append(("greeting_ack", token))
            return "thanks"

    client = make_client()
    client.register_namespace(Root("/"))
    auth, token = greet_auth()
    await client.connect(peer.url, auth=auth, transports=transports, wait_timeout=5)
    try:
        await until(lambda: len(log) == 4)
        assert log == ["connect", *expected_greetings(token)]
    finally:
        await client.disconnect()


async def test_disconnect_handler_runs_after_the_connect_handler(peer: Any, transports: Any) -> None:
    """The server leaves the namespace while ``connect`` is still running: ``disconnect`` waits."""
    client = make_client()
    log: list[Any] = []

    @client.event
    async def connect() -> None:
        log.append("connect start")
        await client.emit("disconnect_me")
        await asyncio.sleep(0.3)
        log.append("connect end")

    @client.event
    def disconnect(reason: str) -> None:
        log.append(("disconnect", reason))

    await client.connect(peer.url, auth=AUTH, transports=transports, wait=False)
    await asyncio.wait_for(client.wait(), 10)
    assert log == ["connect start", "connect end", ("disconnect", "server disconnect")]


async def test_client_disconnect_waits_for_the_connect_handler(peer: Any, transports: Any) -> None:
    client = make_client()
    log: list[Any] = []
    started = asyncio.Event()

    @client.event
    async def connect() -> None:
        started.set()
        await asyncio.sleep(0.3)
        log.append("connect end")

    @client.event
    async def disconnect(reason: str) -> None:
        log.append(("disconnect", reason))

    await client.connect(peer.url, auth=AUTH, transports=transports, wait=False)
    await asyncio.wait_for(started.wait(), 5)
    await client.disconnect()
    assert log == ["connect end", ("disconnect", "client disconnect")]


async def test_disconnect_from_inside_the_connect_handler(peer: Any) -> None:
    """The one exception: a connect handler that disconnects cannot wait for itself."""
    client = make_client()
    log: list[Any] = []

    @client.event
    async def connect() -> None:
        await client.disconnect()
        log.append("connect end")

    client.on("disconnect", lambda reason: log.append(("disconnect", reason)))
    await client.connect(peer.url, auth=AUTH, wait=False)
    await asyncio.wait_for(client.wait(), 5)
    await until(lambda: "connect end" in log)
    assert log == [("disconnect", "client disconnect"), "connect end"]


async def test_simple_client_receives_the_greeting(peer: Any, mode: str, transports: Any) -> None:
    """python-socketio's ``fiddle_client.py`` case: ``receive()`` gets what the connect handler sent."""
    auth, token = greet_auth()
    async with AsyncSimpleClient(handle_sigint=False) as client:
        await client.connect(peer.url, auth=auth, transports=transports)
        assert await client.receive(timeout=5) == ["greeting", token]
        assert await client.receive(timeout=5) == ["greeting", token, b"\x01\x02"]
        assert await client.receive(timeout=5) == ["greeting_ack", token]


async def test_greeting_on_a_second_namespace(peer: Any, transports: Any) -> None:
    client = make_client()
    root: list[Any] = []
    chat: list[Any] = []
    client.on("connect", lambda: root.append("connect"))
    client.on("connect", lambda: chat.append("connect"), namespace="/chat")
    record_greetings(client, root)
    record_greetings(client, chat, namespace="/chat")
    auth, token = greet_auth()
    await client.connect(
        peer.url, auth=auth, transports=transports, namespaces=["/", "/chat"], wait_timeout=5
    )
    try:
        await until(lambda: len(root) == 4 and len(chat) == 4)
        assert root == chat == ["connect", *expected_greetings(token)]
    finally:
        await client.disconnect()


# -- a python-socketio server made for one test ------------------------------------------------------


@pytest.fixture
async def psio() -> AsyncIterator[tuple[socketio.AsyncServer, str]]:
    """A bare python-socketio server on 127.0.0.1 (the test adds its handlers), and its URL."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield sio, f"http://127.0.0.1:{port}"
    finally:
        await asyncio.wait_for(sio.shutdown(), 5)
        await runner.cleanup()


async def test_sync_and_async_handlers_start_in_arrival_order(psio: Any) -> None:
    """Ten events held before CONNECT, alternating async and plain handlers, start in order."""
    sio, url = psio

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        for i in range(10):
            await sio.emit("async_ev" if i % 2 == 0 else "sync_ev", i, to=sid)

    client = make_client()
    started: list[int] = []

    @client.on("async_ev")
    async def async_ev(i: int) -> None:
        started.append(i)
        await asyncio.sleep(0)

    client.on("sync_ev", lambda i: started.append(i))
    await client.connect(url, wait_timeout=5)
    try:
        await until(lambda: len(started) == 10)
        assert started == list(range(10))
    finally:
        await client.disconnect()


async def test_held_events_are_bounded(psio: Any, caplog: pytest.LogCaptureFixture) -> None:
    sio, url = psio

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        for i in range(50):
            await sio.emit("ev", i, to=sid)
        await sio.emit("ev", "x" * 2000, to=sid)

    got: list[Any] = []
    client = make_client(max_held_events=10)
    client.on("ev", lambda i: got.append(i))
    with caplog.at_level(logging.WARNING, logger="aiosio.client"):
        await client.connect(url, wait_timeout=5)
    try:
        await asyncio.sleep(0.2)
        assert got == list(range(10))
        assert "Dropping events for namespace /" in caplog.text
        assert "41 events for namespace / were dropped" in caplog.text
    finally:
        await client.disconnect()
    # The byte bound: the long event alone is over it.
    got.clear()
    client = make_client(max_held_bytes=1000)
    client.on("ev", lambda i: got.append(i))
    await client.connect(url, wait_timeout=5)
    try:
        await asyncio.sleep(0.2)
        assert got == list(range(50))
    finally:
        await client.disconnect()


async def test_a_server_that_never_answers_connect_holds_bounded_memory(
    psio: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sio, url = psio
    release = asyncio.Event()

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        for i in range(200):
            await sio.emit("ev", i, to=sid)
        await release.wait()  # the CONNECT reply never comes while the client waits

    client = make_client(max_held_events=20)
    got: list[Any] = []
    client.on("ev", lambda i: got.append(i))
    connecting = asyncio.ensure_future(client.connect(url, transports=["websocket"], wait_timeout=1.5))
    try:
        await until(lambda: client._inboxes.get("/") is not None and client._inboxes["/"].dropped >= 180)
        assert len(client._inboxes["/"].held) == 20
        with (
            caplog.at_level(logging.INFO, logger="aiosio.client"),
            pytest.raises(ConnectionError_, match="Timed out"),
        ):
            await connecting
        assert got == []
        assert "Discarding 200 events received for namespace /, which was never joined" in caplog.text
    finally:
        release.set()
        await client.disconnect()


async def test_eio_view(peer: Any, mode: str, transports: Any) -> None:
    """``client.eio`` answers python-engineio's ``AsyncClient`` attributes apps read."""
    client = make_client()
    assert client.eio.state == "disconnected"
    assert client.eio.sid is None and client.eio.transport() is None and client.eio.transports is None
    await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        assert client.eio.state == "connected"
        assert client.eio.sid == client.sid and client.sid
        assert client.eio.transport() == client.transport() == client.eio.current_transport
        assert client.eio.transports == (transports or ["polling", "websocket"])
        assert client.eio.ping_interval == 25 and client.eio.ping_timeout == 20
        if mode == "polling":
            assert client.eio.transport() == "polling"
        assert isinstance(client.eio.upgrades, list)
        assert client.eio.is_asyncio_based()
        event = client.eio.create_event()
        client.eio.start_background_task(client.eio.sleep, 0).add_done_callback(lambda _: event.set())
        await asyncio.wait_for(event.wait(), 5)
        assert isinstance(client.eio.create_queue(), asyncio.Queue)
    finally:
        await client.disconnect()
    assert client.eio.state == "disconnected" and client.eio.sid is None


async def test_room_broadcast(peer: Any, transports: Any) -> None:
    """Three clients, two in a room: a broadcast to the room reaches exactly those two."""
    room = f"room-{next(_greets)}"
    clients = [make_client() for _ in range(3)]
    inboxes: list[list[Any]] = [[], [], []]
    for client, inbox in zip(clients, inboxes, strict=True):
        client.on("news", lambda *args, inbox=inbox: inbox.append(args))
        await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        assert await clients[0].call("join_room", room, timeout=5) is True
        assert await clients[1].call("join_room", room, timeout=5) is True
        await clients[2].emit("to_room", (room, "news", "hi", b"\x00"))
        await until(lambda: inboxes[0] and inboxes[1])
        await asyncio.sleep(0.1)
        assert inboxes == [[("hi", b"\x00")], [("hi", b"\x00")], []]
    finally:
        for client in clients:
            await client.disconnect()


@pytest.mark.allow_server_errors("Cannot send the acknowledgement")
async def test_unsendable_ack_is_logged_and_later_events_still_flow(
    peer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler's return value that cannot be encoded is logged; the connection carries on."""
    client = make_client()
    got: list[Any] = []
    client.on("question", lambda payload: object())  # not JSON: the ack cannot be encoded
    client.on("echo", lambda *args: got.append(args))
    await client.connect(peer.url, auth=AUTH)
    try:
        with caplog.at_level(logging.ERROR, logger="aiosio.client"):
            answer = await client.call("ask_client", 1, timeout=10)
        # The server's call times out (5 s) and says so; the connection is intact.
        assert "error" in answer
        assert "Cannot send the acknowledgement" in caplog.text
        await client.emit("emit_to_me", ("echo", "after"))
        await until(lambda: got == [("after",)])
    finally:
        await client.disconnect()
