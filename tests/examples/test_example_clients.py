"""The client example apps run against each kind of server doing what the server examples do.

Servers: the greeter / ping-pong apps on aiosio, the same apps on python-socketio, and
``node_example_server.js`` (npm socket.io). Clients: the apps on aiosio's ``AsyncClient`` /
``AsyncSimpleClient``, and on python-socketio's client against the aiosio server (the
python-socketio client against its own or the Node server tests nothing of aiosio's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest
from apps import (
    greeter,
    greeter_client,
    pingpong,
    pingpong_client,
    simple_greeter_client,
    simple_pingpong_client,
)
from example_support import LIBS, WAIT, RunApp, node_log, until

from processes import ServerProcess

pytestmark = [pytest.mark.timeout(30)]

#: (client library, server kind) pairs; the Node server needs node (``interop``).
PAIRS = [
    pytest.param("aiosio", "aiosio", id="aiosio-client-aiosio-server"),
    pytest.param("aiosio", "python-socketio", id="aiosio-client-python-socketio-server"),
    pytest.param("aiosio", "node", id="aiosio-client-node-server", marks=pytest.mark.interop),
    pytest.param("python-socketio", "aiosio", id="python-socketio-client-aiosio-server"),
]
GREETING = (7, 8, {"greet": "you"})


class Server:
    """A running server for the client apps, and what its handlers saw."""

    def __init__(self, kind: str, url: str, seen: Callable[[], list[tuple[str, str, Any]]]) -> None:
        self.kind = kind
        self.url = url
        self.seen = seen

    @property
    def client_disconnect(self) -> str:
        """The reason the server's disconnect handler gets when the client leaves."""
        return "client namespace disconnect" if self.kind == "node" else "client disconnect"


StartServer = Callable[[str, ModuleType], Awaitable[Server]]


@pytest.fixture
async def start_server(request: pytest.FixtureRequest, run_app: RunApp) -> AsyncIterator[StartServer]:
    """``await start_server(kind, app_module)``: the app on aiosio / python-socketio, or the Node server."""

    async def start(kind: str, module: ModuleType) -> Server:
        if kind == "node":
            node: ServerProcess = request.getfixturevalue("node_server")

            def node_seen() -> list[tuple[str, str, Any]]:
                return [
                    (e["event"], e["sid"], e["auth"] if e["event"] == "connect" else e["reason"])
                    for e in node_log(node)
                ]

            return Server(kind, node.url, node_seen)
        running = await run_app(module.build(LIBS[kind]))
        if module is greeter:
            return Server(kind, running.url, lambda: running.app[greeter.SEEN])
        return Server(kind, running.url, list)

    yield start


def mine(server: Server, sid: str | None) -> list[tuple[str, str, Any]]:
    """The server's handler calls for this client's sid."""
    return [entry for entry in server.seen() if entry[1] == sid]


@pytest.mark.parametrize(("client_lib", "server_kind"), PAIRS)
async def test_greeter_client(client_lib: str, server_kind: str, start_server: StartServer) -> None:
    """connect first, then the three greeting arguments; the token reached the server; wait() ends."""
    server = await start_server(server_kind, greeter)
    sio, log = greeter_client.make(LIBS[client_lib])
    token = f"{client_lib}-{server_kind}-event"
    task = asyncio.create_task(greeter_client.run(sio, server.url, token))
    try:
        await until(lambda: any(entry[0] == "greet" for entry in log) or task.done(), what="greeting")
        if task.done():
            task.result()
        sid = sio.get_sid()  # python-socketio's ``sio.sid`` is the Engine.IO sid
        assert log == [("connect", sid), ("greet", *GREETING)]
        assert mine(server, sid) == [("connect", sid, {"token": token})]
        await sio.disconnect()
        await asyncio.wait_for(task, WAIT)  # wait() returns once disconnected
        assert log[-1] == ("disconnect", sio.reason.CLIENT_DISCONNECT)
        await until(lambda: len(mine(server, sid)) == 2, what="server disconnect handler")
        reasons = {server.client_disconnect}
        if client_lib == "python-socketio":
            # Its client sends DISCONNECT then CLOSE back to back; its own server reports either.
            reasons.add("transport close")
        assert mine(server, sid)[1][:2] == ("disconnect", sid)
        assert mine(server, sid)[1][2] in reasons
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await sio.disconnect()


@pytest.mark.parametrize(("client_lib", "server_kind"), PAIRS)
async def test_pingpong_client(client_lib: str, server_kind: str, start_server: StartServer) -> None:
    """Ping on connect, ping after each pong and a pause; disconnecting ends wait()."""
    server = await start_server(server_kind, pingpong)
    sio, rtts = pingpong_client.make(LIBS[client_lib], rounds=4, pause=0.02)
    try:
        await asyncio.wait_for(pingpong_client.run(sio, server.url), WAIT)
        assert len(rtts) == 4
        assert all(0 < rtt < WAIT for rtt in rtts)
        assert not sio.connected
    finally:
        with contextlib.suppress(BaseException):
            await sio.disconnect()


@pytest.mark.parametrize(("client_lib", "server_kind"), PAIRS)
async def test_simple_greeter_client(client_lib: str, server_kind: str, start_server: StartServer) -> None:
    """``receive()`` returns the greeting the server sent from its connect handler."""
    server = await start_server(server_kind, greeter)
    token = f"{client_lib}-{server_kind}-simple"
    event = await asyncio.wait_for(
        simple_greeter_client.first_event(server.url, LIBS[client_lib], token), WAIT
    )
    assert event == ["greet", *GREETING]
    assert [entry[2] for entry in server.seen() if entry[0] == "connect" and entry[2] == {"token": token}]


@pytest.mark.parametrize(("client_lib", "server_kind"), PAIRS)
async def test_simple_pingpong_client(client_lib: str, server_kind: str, start_server: StartServer) -> None:
    """Each ``emit`` is answered; ``receive()`` loops until exactly ``["pong_from_server"]``."""
    server = await start_server(server_kind, pingpong)
    rtts, others = await asyncio.wait_for(
        simple_pingpong_client.measure(server.url, LIBS[client_lib], rounds=4, pause=0.02), WAIT
    )
    assert len(rtts) == 4
    # The Node server greets every client (it is both example servers in one).
    assert others == ([["greet", *GREETING]] if server_kind == "node" else [])


@pytest.mark.parametrize(
    ("client_lib", "server_lib"),
    [(c, s) for c in LIBS for s in LIBS],
    ids=[f"{c}-client-{s}-server" for c in LIBS for s in LIBS],
)
async def test_greeter_without_auth(client_lib: str, server_lib: str, run_app: RunApp) -> None:
    """A Python client that sends no auth: the connect handler gets ``auth=None`` (greeter prints it)."""
    running = await run_app(greeter.build(LIBS[server_lib]))
    event = await asyncio.wait_for(
        simple_greeter_client.first_event(running.url, LIBS[client_lib], token=None), WAIT
    )
    assert event == ["greet", *GREETING]
    assert [entry[2] for entry in running.app[greeter.SEEN] if entry[0] == "connect"] == [None]
