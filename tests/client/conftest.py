"""Peers for the client tests: aiosio's own server and python-socketio's (both in-process, on
aiohttp), and the Node reference server.

All expose the same events (see ``node/server.js``), require ``auth={"token": "secret"}``, and can be
stopped and started again on the same port. Every test is parametrized over the three transport
modes through the ``mode`` fixture.

python-socketio's server differs in one way the client must handle: it runs its connect handler
before it sends the CONNECT reply, so what that handler emits reaches the client first. With
``auth={"token": "secret", "greet": G}`` every peer greets from its connect handler (see
``node/server.js``): ``greeting(G)``, ``greeting(G, b"\x01\x02")`` and ``greeting_ack(G)`` with an
acknowledgement callback that stores ``["ack", G, *answer]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import aiosio
from peers import require_node

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
NODE_SERVER = HERE / "node" / "server.js"
AUTH = {"token": "secret"}

#: The kinds of server; the Node one is marked ``interop`` (it needs ``npm ci``).
PEERS = ["aiosio", "python-socketio", pytest.param("node", marks=pytest.mark.interop)]

#: Transport mode -> the ``transports`` argument of ``connect()``.
MODES = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


class NodePeer:
    """The npm socket.io server as a child process; restartable on the same port."""

    kind = "node"

    def __init__(
        self,
        msgpack: bool = False,
        ping_interval: int | None = None,
        ping_timeout: int | None = None,
        max_payload: int | None = None,
    ):
        self.msgpack = msgpack
        self.max_payload = max_payload
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_sync(self) -> None:
        args = ["node", str(NODE_SERVER), "--port", str(self.port)]
        if self.msgpack:
            args.append("--msgpack")
        if self.ping_interval is not None:
            args += ["--ping-interval", str(self.ping_interval)]
        if self.ping_timeout is not None:
            args += ["--ping-timeout", str(self.ping_timeout)]
        if self.max_payload is not None:
            args += ["--max-payload", str(self.max_payload)]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        # readline blocks; the alarm bounds it should node hang before listening.
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(15)
        try:
            line = self.proc.stdout.readline()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        if not line:
            self.proc.wait(5)
            raise RuntimeError(f"node server failed to start (exit {self.proc.returncode})")
        self.port = json.loads(line)["port"]

    def stop_sync(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    async def start(self) -> None:
        # Starting takes ~100 ms of blocking; fine in tests and keeps one code path.
        self.start_sync()

    async def stop(self) -> None:
        self.stop_sync()


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("node server did not start in time")


def refused_error() -> type[Exception]:
    """The exception aiosio.AsyncServer's connect handlers raise to refuse a client.

    While aiosio.AsyncServer is python-socketio's server (the stand-in) that is python-socketio's
    class; with aiosio's own server it is aiosio's.
    """
    if type(aiosio.AsyncServer).__module__.startswith("socketio") or aiosio.AsyncServer.__module__.startswith(
        "socketio"
    ):
        import socketio

        return socketio.exceptions.ConnectionRefusedError  # type: ignore[no-any-return]
    from aiosio import exceptions

    return exceptions.ConnectionRefusedError


class PyPeer:
    """aiosio.AsyncServer (or, with ``kind="python-socketio"``, python-socketio's) on aiohttp in this
    process, with the Node peer's events."""

    def __init__(self, msgpack: bool = False, kind: str = "aiosio", **server_options: Any):
        self.kind = kind
        self.msgpack = msgpack
        self.server_options = server_options
        self.port = 0
        self.stored: list[Any] = []
        self.sio: Any = None
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _make_server(self) -> Any:
        serializer = "msgpack" if self.msgpack else "default"
        refused: type[Exception]
        if self.kind == "python-socketio":
            import socketio

            sio = socketio.AsyncServer(async_mode="aiohttp", serializer=serializer, **self.server_options)
            refused = socketio.exceptions.ConnectionRefusedError
        else:
            sio = aiosio.AsyncServer(serializer=serializer, **self.server_options)
            refused = refused_error()
        stored = self.stored

        for ns in ("/", "/chat"):

            async def connect(sid: str, environ: Any, auth: Any = None, _ns: str = ns) -> None:
                if not isinstance(auth, dict) or auth.get("token") != "secret":
                    raise refused("not authorized", {"reason": "bad token"})
                if "greet" in auth:
                    greet = auth["greet"]

                    def store_ack(*answer: Any) -> None:
                        stored.append(["ack", greet, *answer])

                    await sio.emit("greeting", greet, to=sid, namespace=_ns)
                    await sio.emit("greeting", (greet, b"\x01\x02"), to=sid, namespace=_ns)
                    await sio.emit("greeting_ack", greet, to=sid, namespace=_ns, callback=store_ack)

            async def echo(sid: str, *args: Any) -> Any:
                return args

            async def emit_to_me(sid: str, event: str, *args: Any, _ns: str = ns) -> None:
                await sio.emit(event, args if len(args) != 1 else args[0], to=sid, namespace=_ns)

            async def ask_client(sid: str, payload: Any, _ns: str = ns) -> Any:
                try:
                    return await sio.call("question", payload, to=sid, namespace=_ns, timeout=5)
                except Exception as exc:
                    return {"error": repr(exc)}

            async def disconnect_me(sid: str, _ns: str = ns) -> None:
                await sio.disconnect(sid, namespace=_ns)

            def store(sid: str, x: Any) -> None:
                stored.append(x)

            def get_stored(sid: str) -> Any:
                return list(stored)

            async def whoami(sid: str, _ns: str = ns) -> Any:
                return {"nsp": _ns, "transport": sio.transport(sid, namespace=_ns)}

            async def join_room(sid: str, room: str, _ns: str = ns) -> bool:
                await sio.enter_room(sid, room, namespace=_ns)
                return True

            async def to_room(sid: str, room: str, event: str, *args: Any, _ns: str = ns) -> None:
                await sio.emit(event, args if len(args) != 1 else args[0], room=room, namespace=_ns)

            for name, func in [
                ("connect", connect),
                ("echo", echo),
                ("emit_to_me", emit_to_me),
                ("ask_client", ask_client),
                ("disconnect_me", disconnect_me),
                ("store", store),
                ("get_stored", get_stored),
                ("whoami", whoami),
                ("join_room", join_room),
                ("to_room", to_room),
            ]:
                sio.on(name, func, namespace=ns)
        return sio

    async def start(self) -> None:
        self.sio = self._make_server()
        app = web.Application()
        self.sio.attach(app)
        # python-engineio holds each long-polling GET open for up to a ping interval; aiohttp's cleanup
        # would wait for them (60 s by default).
        self.runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        # Errors here are raised (they fail the test), as in the shared ``serve`` fixture.
        sio, self.sio = self.sio, None
        runner, self.runner = self.runner, None
        try:
            if sio is not None:
                await asyncio.wait_for(sio.shutdown(), 5)
        finally:
            if runner is not None:
                await runner.cleanup()


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """The transport mode: polling, websocket, or polling upgraded to websocket."""
    return str(request.param)


@pytest.fixture
def transports(mode: str) -> list[str] | None:
    """``connect(transports=...)`` for the mode."""
    return MODES[mode]


@pytest.fixture(scope="module")
def node_peer_shared() -> Iterator[NodePeer]:
    """One Node server for a whole module (its state is shared: tests use unique values)."""
    require_node()
    peer = NodePeer()
    peer.start_sync()
    try:
        yield peer
    finally:
        peer.stop_sync()


@pytest.fixture(scope="module")
def node_peer_msgpack_shared() -> Iterator[NodePeer]:
    """A Node server using socket.io-msgpack-parser, shared by a module."""
    require_node()
    peer = NodePeer(msgpack=True)
    peer.start_sync()
    try:
        yield peer
    finally:
        peer.stop_sync()


@pytest.fixture(params=PEERS)
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A running server of each kind (the Node one shared by the module)."""
    if request.param == "node":
        yield request.getfixturevalue("node_peer_shared")
        return
    py = PyPeer(kind=request.param)
    await py.start()
    try:
        yield py
    finally:
        await py.stop()


@pytest.fixture(params=PEERS)
async def msgpack_peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A running msgpack server of each kind."""
    if request.param == "node":
        yield request.getfixturevalue("node_peer_msgpack_shared")
        return
    py = PyPeer(msgpack=True, kind=request.param)
    await py.start()
    try:
        yield py
    finally:
        await py.stop()


@pytest.fixture(params=PEERS)
async def own_peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A server of each kind for this test alone (it may stop and restart it)."""
    if request.param == "node":
        require_node()
        node = NodePeer()
    else:
        node = PyPeer(kind=request.param)  # type: ignore[assignment]
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir(f"/proc/{os.getpid()}/fd")) if sys.platform == "linux" else 0


async def until(predicate: Any, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Wait until ``predicate()`` is true, failing the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met within the time limit")
        await asyncio.sleep(interval)
