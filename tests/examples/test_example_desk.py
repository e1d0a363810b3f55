"""The desk app: the server and client API python-socketio's documentation shows, beyond the examples.

The server runs on aiosio and on python-socketio (the reference). It is driven by aiosio's
``AsyncClient`` / ``AsyncSimpleClient``, by python-socketio's client (against aiosio), and by the
npm socket.io-client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from apps import desk
from example_support import LIBS, WAIT, RunApp, RunningApp, until
from node_driver import NodeDriver

pytestmark = [pytest.mark.timeout(30)]

#: (client library, server library): aiosio's client on both servers, python-socketio's on aiosio.
PAIRS = [
    pytest.param("aiosio", "aiosio", id="aiosio-client-aiosio-server"),
    pytest.param("aiosio", "python-socketio", id="aiosio-client-python-socketio-server"),
    pytest.param("python-socketio", "aiosio", id="python-socketio-client-aiosio-server"),
]
SERVER_LIBS = ["aiosio", "python-socketio"]
REFUSED = {"message": "authentication failed", "data": {"need": "token"}}
BUILTIN_REFUSED = {"message": "Connection refused by server"}


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[ModuleType], Any]]:
    """``clients(lib)`` makes an ``AsyncClient``; every one is disconnected at teardown."""
    made: list[Any] = []

    def make(lib: ModuleType) -> Any:
        made.append(lib.AsyncClient())
        return made[-1]

    yield make
    for client in made:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(client.disconnect(), 5)


async def start_desk(run_app: RunApp, server_lib: str, **kwargs: Any) -> RunningApp:
    """The desk app on *server_lib*."""
    return await run_app(desk.build(LIBS[server_lib], **kwargs))


@pytest.mark.allow_server_errors(r"is not an accepted origin")  # python-socketio logs the refusal
@pytest.mark.parametrize("server_lib", SERVER_LIBS)
async def test_cors_and_logger(server_lib: str, run_app: RunApp) -> None:
    """``cors_allowed_origins`` admits the listed origin only; ``logger=<Logger>`` is the server's logger."""
    logger = logging.getLogger(f"desk-{server_lib}")
    running = await start_desk(run_app, server_lib, logger=logger)
    assert running.sio.logger is logger
    if server_lib == "python-socketio":
        # python-socketio sets its shared logger's level only while it is NOTSET: an earlier test's
        # AsyncServer() (logger=False) would have left it at ERROR.
        logging.getLogger("socketio.server").setLevel(logging.NOTSET)
    chatty = LIBS[server_lib].AsyncServer(async_mode="aiohttp", logger=True, engineio_logger=True)
    assert chatty.logger.isEnabledFor(logging.INFO)
    handshake = running.url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(handshake, headers={"Origin": desk.ORIGIN}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == desk.ORIGIN
        async with http.get(handshake, headers={"Origin": "http://elsewhere.example"}) as resp:
            # python-socketio answers 400, aiosio 403 as Node's engine.io does (docs/reliability.md).
            assert resp.status in (400, 403)
            assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize(("client_lib", "server_lib"), PAIRS)
async def test_refusals(client_lib: str, server_lib: str, run_app: RunApp, clients: Any) -> None:
    """``ConnectionRefusedError`` with data, a class-based refusal, and the built-in exception."""
    running = await start_desk(run_app, server_lib)
    lib = LIBS[client_lib]
    for auth, namespaces, expected in [
        ({"token": "wrong"}, ["/"], REFUSED),
        (None, ["/"], REFUSED),
        ({"pin": "0000"}, ["/admin"], {"message": "wrong pin"}),
        ({"token": desk.TOKEN}, ["/locked"], BUILTIN_REFUSED),
    ]:
        sio = clients(lib)
        errors: list[Any] = []
        sio.on("connect_error", errors.append, namespace=namespaces[0])
        with pytest.raises(lib.exceptions.ConnectionError):
            await sio.connect(running.url, auth=auth, namespaces=namespaces, transports=["websocket"])
        assert errors == [expected], (auth, namespaces)
        assert not sio.connected


@pytest.mark.parametrize(("client_lib", "server_lib"), PAIRS)
async def test_event_client(client_lib: str, server_lib: str, run_app: RunApp, clients: Any) -> None:
    """Sessions, environ, rooms, skip_sid, call both ways, emit callbacks, catch-alls, namespaces, tasks."""
    running = await start_desk(run_app, server_lib)
    record = running.app[desk.RECORD]
    lib = LIBS[client_lib]
    sio, peer = clients(lib), clients(lib)
    log: list[tuple[Any, ...]] = []
    peer_log: list[tuple[Any, ...]] = []

    @sio.event
    async def connect() -> None:
        log.append(("connect",))

    @sio.on("connect", namespace="/chat")
    def chat_up() -> None:
        log.append(("connect", "/chat"))

    @sio.event
    def disconnect(reason: str) -> None:
        log.append(("disconnect", reason))

    @sio.event
    async def question(data: Any) -> str:
        log.append(("question", data))
        return "blue"

    @sio.on("verdict")
    def verdict(data: Any) -> str:
        log.append(("verdict", data))
        return "noted"

    @sio.on("chat reply")
    def chat_reply(data: Any) -> None:
        log.append(("chat reply", data))

    @sio.on("posted", namespace="/chat")
    def posted(data: Any) -> None:
        log.append(("posted", data))

    @sio.on("*")
    def anything(event: str, *args: Any) -> None:
        log.append(("*", event, *args))

    peer.on("chat reply", lambda data: peer_log.append(("chat reply", data)))
    peer.on("disconnect", lambda reason: peer_log.append(("disconnect", reason)))

    await sio.connect(
        running.url,
        headers={"X-Desk-Agent": "pytest"},
        auth={"token": desk.TOKEN, "user": "ann"},
        transports=["websocket"],
        namespaces=["/", "/chat"],
    )
    await peer.connect(running.url + "?desk=peer", auth={"token": desk.TOKEN, "user": "pat"})
    sid, peer_sid = sio.get_sid("/"), peer.get_sid("/")
    assert sio.connected and sio.transport() == "websocket"
    await until(lambda: ("connect", "/chat") in log, what="/chat connect handler")
    assert ("connect",) in log

    # Session filled in connect (auth + a request header), rooms, transport; save_session.
    assert await sio.call("whoami", timeout=WAIT) == ("ann", "pytest", [sid], "websocket")
    assert await sio.call("rename", "bob", timeout=WAIT) == "renamed"
    assert (await sio.call("whoami", timeout=WAIT))[0] == "bob"
    session = await running.sio.get_session(peer_sid)
    assert session["query"].startswith("desk=peer") or "desk=peer" in session["query"]

    # A room; skip_sid leaves the sender out.
    for client in (sio, peer):
        await client.call("begin_chat", timeout=WAIT)
    assert sorted(running.sio.rooms(sid)) == sorted([sid, "chat_users"])
    await sio.emit("chat message", {"text": "hi"})
    await until(lambda: peer_log == [("chat reply", {"text": "hi"})], what="chat reply at the peer")
    await peer.emit("chat message", {"text": "yo"})
    await until(lambda: ("chat reply", {"text": "yo"}) in log, what="chat reply at the sender's peer")
    await sio.call("exit_chat", timeout=WAIT)
    await peer.emit("chat message", {"text": "alone"})
    await sio.call("whoami", timeout=WAIT)  # a round trip after the emit: anything sent to sio is here by now
    assert [entry for entry in log if entry[0] == "chat reply"] == [("chat reply", {"text": "yo"})]

    # The server calls the client (its handler's return is the answer), then emits with a callback.
    assert await sio.call("quiz", timeout=WAIT) == "blue"
    await until(lambda: record.verdict_acks == [("noted",)], what="emit callback")
    assert ("question", {"q": "colour?"}) in log and ("verdict", {"answer": "blue"}) in log

    # Catch-alls: the server's answers unknown events, the client's gets unhandled ones.
    assert await sio.call("no such event", (1, 2), timeout=WAIT) == ("caught", "no such event")
    assert ("no such event", sid, 1, 2) in record.caught
    await sio.emit("nudge")
    await until(lambda: ("*", "nudged") in log, what="client catch-all")

    # A decorator-based namespace: a broadcast within /chat.
    await sio.emit("post", {"n": 1}, namespace="/chat")
    await until(lambda: ("posted", {"n": 1}) in log, what="/chat broadcast")

    # Background tasks and sleep on the client.
    async def beat(count: int) -> None:
        for i in range(count):
            await sio.sleep(0.01)
            await sio.emit("beat", i)

    task = sio.start_background_task(beat, 3)
    await asyncio.wait_for(task, WAIT)
    await until(lambda: [c[2] for c in record.caught if c[0] == "beat"] == [0, 1, 2], what="beats")

    # Closing a client's Engine.IO transport from the server (eio.disconnect + manager).
    await peer.emit("drop_transport")
    await until(lambda: any(e[0] == "disconnect" for e in peer_log), what="peer disconnect handler")
    await until(lambda: any(d[1] == peer_sid for d in record.disconnects), what="server disconnect handler")

    # disconnect() from the server: both the client and the server hear it, per namespace.
    await sio.emit("bye")
    await until(lambda: ("disconnect", sio.reason.SERVER_DISCONNECT) in log, what="client disconnect handler")
    await until(lambda: ("/", sid, running.sio.reason.SERVER_DISCONNECT) in record.disconnects, what="bye")


@pytest.mark.parametrize(("client_lib", "server_lib"), PAIRS)
async def test_class_namespaces(client_lib: str, server_lib: str, run_app: RunApp, clients: Any) -> None:
    """``AsyncNamespace`` (with a ``trigger_event`` override) meets an ``AsyncClientNamespace``."""
    running = await start_desk(run_app, server_lib)
    record = running.app[desk.RECORD]
    lib = LIBS[client_lib]
    got: list[tuple[Any, ...]] = []

    class Console(lib.AsyncClientNamespace):  # type: ignore[name-defined,misc]
        def on_connect(self) -> None:
            got.append(("connect",))

        def on_disconnect(self, reason: str) -> None:
            got.append(("disconnect", reason))

        async def on_status(self, data: Any) -> None:
            got.append(("status", data))

    sio = clients(lib)
    sio.register_namespace(Console("/admin"))
    await sio.connect(running.url, auth={"pin": desk.PIN}, namespaces=["/admin"])
    sid = sio.get_sid("/admin")
    assert await sio.call("status", {"load": 1}, namespace="/admin", timeout=WAIT) == "root"
    await until(lambda: ("status", {"load": 1}) in got, what="status broadcast to the ops room")
    assert await sio.call("ping", namespace="/admin", timeout=WAIT) == "pong"
    await sio.disconnect()
    await until(lambda: any(d[0] == "/admin" for d in record.disconnects), what="namespace disconnect")
    assert got[0] == ("connect",) and got[-1] == ("disconnect", sio.reason.CLIENT_DISCONNECT)
    # Every handler call went through the override, connect and disconnect included.
    assert [event for event, who in record.audit if who == sid] == ["connect", "status", "ping", "disconnect"]


@pytest.mark.parametrize(("client_lib", "server_lib"), PAIRS)
async def test_catch_all_namespace(client_lib: str, server_lib: str, run_app: RunApp, clients: Any) -> None:
    """A namespace nobody declared is served by the ``namespace="*"`` handlers."""
    running = await start_desk(run_app, server_lib, open_door=True)
    sio = clients(LIBS[client_lib])
    await sio.connect(running.url, auth={"token": desk.TOKEN}, namespaces=["/room-42"])
    sid = sio.get_sid("/room-42")
    answer = await sio.call("hello", {"x": 1}, namespace="/room-42", timeout=WAIT)
    assert answer == ("any", "/room-42", "hello", sorted([sid, "guests of /room-42"]))


@pytest.mark.parametrize(("client_lib", "server_lib"), PAIRS)
async def test_simple_client(client_lib: str, server_lib: str, run_app: RunApp) -> None:
    """``AsyncSimpleClient``: sid, transport, emit, call, receive, receive(timeout=) and disconnect."""
    running = await start_desk(run_app, server_lib)
    record = running.app[desk.RECORD]
    lib = LIBS[client_lib]
    async with lib.AsyncSimpleClient() as sio:
        await sio.connect(running.url, auth={"token": desk.TOKEN, "user": "cy"}, transports=["polling"])
        assert sio.transport == "polling"
        await sio.emit("probe", "x")
        await until(lambda: any(c[0] == "probe" for c in record.caught), what="probe")
        assert [c[1] for c in record.caught if c[0] == "probe"] == [sio.sid]
        assert await sio.call("whoami", timeout=WAIT) == ("cy", "", [sio.sid], "polling")
        await sio.emit("nudge")
        assert await asyncio.wait_for(sio.receive(), WAIT) == ["nudged"]
        with pytest.raises(lib.exceptions.TimeoutError):
            await sio.receive(timeout=0.2)
        await sio.disconnect()
        await until(lambda: any(d[1] == sid for d in record.disconnects) if (sid := sio.sid) else True)
    assert [d[2] for d in record.disconnects if d[0] == "/"] == [running.sio.reason.CLIENT_DISCONNECT]


@pytest.mark.interop
@pytest.mark.parametrize("server_lib", SERVER_LIBS)
async def test_npm_client(server_lib: str, run_app: RunApp, node: NodeDriver) -> None:
    """The npm client: refusals with data, auth and headers, server call, catch-all, namespaces, kicks."""
    running = await start_desk(run_app, server_lib)
    record = running.app[desk.RECORD]
    await node.connect("refused", running.url, auth={"token": "wrong"})
    err = await node.event("connect_error", client="refused", timeout=WAIT)
    assert (err["message"], err["data"]) == (REFUSED["message"], REFUSED["data"])
    await node.connect("locked", running.url, nsp="/locked", auth={"token": desk.TOKEN})
    err = await node.event("connect_error", client="locked", timeout=WAIT)
    assert err["message"] == BUILTIN_REFUSED["message"]

    headers = {"X-Desk-Agent": "node"}
    await node.connect("ann", running.url, auth={"token": desk.TOKEN, "user": "ann"}, extraHeaders=headers)
    sid = (await node.event("connect", client="ann", timeout=WAIT))["sid"]
    user, agent, rooms, transport = await node.call("ann", "whoami")
    assert (user, agent, rooms) == ("ann", "node", [sid])
    assert transport in ("polling", "websocket")  # before or after the upgrade
    # The driver answers a server call by echoing its arguments.
    assert await node.call("ann", "quiz") == [{"q": "colour?"}]
    await node.event("event", client="ann", event="verdict", timeout=WAIT)
    await until(lambda: record.verdict_acks == [({"answer": {"q": "colour?"}},)], what="emit callback")
    assert await node.call("ann", "what is this", 3) == ["caught", "what is this"]

    await node.connect("ops", running.url, nsp="/admin", auth={"pin": desk.PIN}, manager="shared")
    ops_sid = (await node.event("connect", client="ops", timeout=WAIT))["sid"]
    assert await node.call("ops", "status", "green") == ["root"]
    assert (await node.event("event", client="ops", event="status", timeout=WAIT))["args"] == ["green"]
    assert [event for event, who in record.audit if who == ops_sid] == ["connect", "status"]

    await node.connect("pat", running.url, auth={"token": desk.TOKEN}, manager="kicked")
    pat_sid = (await node.event("connect", client="pat", timeout=WAIT))["sid"]
    await node.emit("pat", "drop_transport")
    await until(
        lambda: ("/", pat_sid, running.sio.reason.SERVER_DISCONNECT) in record.disconnects, what="kick"
    )
    if server_lib == "aiosio":
        # python-socketio (5.18) closing a WebSocket this way never tells the npm client (not within
        # 30 s); aiosio closes it at once, as its polling transport does.
        assert (await node.event("disconnect", client="pat", timeout=WAIT))["reason"] == "transport close"
    await node.emit("ann", "bye")
    assert (await node.event("disconnect", client="ann", timeout=WAIT))["reason"] == "io server disconnect"
