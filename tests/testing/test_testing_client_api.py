"""The test client's API next to aiosio.AsyncClient's: lifecycle handlers, ``event``,
``transport()``, ``is_recovered``, ``emit(timeout=)``, the default namespaces, TestServer
accepted where an AsyncServer is, and ``receive`` failing at once when nothing can come."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aiosio
from aiosio import exceptions
from aiosio.testing import NamespaceRefusedError, TestClient, TestServer, connect

pytestmark = pytest.mark.parametrize("transport", ["websocket", "polling"])


async def test_lifecycle_handlers_are_called_as_async_client_calls_them(transport: str) -> None:
    sio = aiosio.AsyncServer(namespaces=["/", "/chat", "/closed"])

    @sio.on("connect", namespace="/closed")
    async def refuse(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise aiosio.exceptions.ConnectionRefusedError("no entry", {"code": 7})

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("welcome", "hi", to=sid)

    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        calls: list[Any] = []

        @client.event
        async def connect() -> None:  # async: connect() returns once it ran; events wait for it
            await asyncio.sleep(0.01)
            calls.append("connect")

        @client.on("welcome")
        def welcome(text: str) -> None:
            calls.append(("welcome", text))

        @client.event(namespace="/chat")
        def disconnect(reason: str) -> None:
            calls.append(("chat disconnect", reason))

        client.on("disconnect", lambda: calls.append("disconnect, no reason argument"))
        client.on("connect_error", lambda data: calls.append(("connect_error", data)), namespace="/closed")
        await client.connect(["/", "/chat"])
        assert calls[0] == "connect"
        await client.wait_idle()
        await asyncio.sleep(0.01)
        assert calls == ["connect", ("welcome", "hi")]
        await sio.disconnect(client.get_sid("/chat"), namespace="/chat")
        await asyncio.sleep(0.01)
        assert calls[-1] == ("chat disconnect", "server disconnect")
        await client.disconnect()
        assert calls[-1] == "disconnect, no reason argument"

        with pytest.raises(NamespaceRefusedError):
            await client.connect("/closed")
        assert calls[-1] == ("connect_error", {"message": "no entry", "data": {"code": 7}})


async def test_default_namespaces_are_those_with_handlers(transport: str) -> None:
    sio = aiosio.AsyncServer(namespaces="*")
    async with TestServer(sio) as server:
        client = server.client(transport=transport)
        client.on("news", lambda: None, namespace="/feed")
        client.on("*", lambda *args: None, namespace="*")  # the catch-all namespace is not joined
        await client.connect()
        assert list(client.namespaces) == ["/feed"]
        plain = server.client(transport=transport)
        await plain.connect()
        assert list(plain.namespaces) == ["/"]


async def test_transport_is_a_method_and_recovery_per_namespace(transport: str) -> None:
    sio = aiosio.AsyncServer(connection_state_recovery={"max_disconnection_duration": 10})
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        assert client.transport() == transport
        assert not client.is_recovered()
        await client.lose_connection()
        await client.connect()
        assert client.is_recovered() and client.is_recovered("/") and not client.is_recovered("/x")


async def test_emit_with_a_timeout_returns_the_ack_future(transport: str) -> None:
    sio = aiosio.AsyncServer()
    sio.on("double", lambda sid, x: 2 * x)
    sio.on("mute", lambda sid: None)

    release = asyncio.Event()

    async def never(sid: str) -> None:
        await release.wait()

    sio.on("never", never)
    async with TestServer(sio) as server:
        client = await server.connect(transport=transport)
        future = await client.emit("double", 21, timeout=1)
        assert future is not None and await future == 42
        assert await client.emit("mute") is None
        late = await client.emit("never", timeout=0.1)
        assert late is not None
        with pytest.raises(exceptions.TimeoutError, match=r"no acknowledgement of 'never' within 0\.1s"):
            await late
        release.set()


async def test_a_test_server_is_accepted_where_a_server_is(transport: str) -> None:
    sio = aiosio.AsyncServer()
    sio.on("double", lambda sid, x: 2 * x)
    environs: list[dict[str, Any]] = []
    sio.on("connect", lambda sid, environ: environs.append(environ))
    async with TestServer(sio) as server:
        first = await connect(server, transport=transport, socketio_path="/ws/")
        second = TestClient(server, transport=transport)
        await second.connect(query={"tag": ["a", "b"], "n": 1})
        assert await first.call("double", 1) == 2 and await second.call("double", 2) == 4
        assert environs[0]["PATH_INFO"] == "/ws/"
        assert environs[1]["QUERY_STRING"] == f"tag=a&tag=b&n=1&EIO=4&transport={transport}"
        await first.disconnect()
        await second.disconnect()
        with pytest.raises(TypeError, match=r"AsyncServer or an aiosio\.testing\.TestServer"):
            TestClient(object())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown transport 'ws'"):
            TestClient(sio, transport="ws")


async def test_receive_fails_at_once_when_nothing_can_come(transport: str) -> None:
    sio = aiosio.AsyncServer(namespaces=["/", "/a"])
    async with TestServer(sio) as server:
        never = server.client(transport=transport)
        started = time.monotonic()
        with pytest.raises(exceptions.DisconnectedError, match=r"no event received; .* \(not connected\)"):
            await never.receive(timeout=3)
        client = await server.connect(["/", "/a"], transport=transport)
        await client.disconnect("/a")
        left = r"in namespace /a received.*client disconnect"
        with pytest.raises(exceptions.DisconnectedError, match=left):
            await client.receive(namespace="/a", timeout=3)
        with pytest.raises(exceptions.DisconnectedError, match=r"/b was not connected"):
            await client.receive(namespace="/b", timeout=3)
        assert time.monotonic() - started < 2
        # Still connected to '/': a receive there waits, and its message reads well.
        wording = r"^no 'news' event in namespace / received within 0\.05s$"
        with pytest.raises(exceptions.TimeoutError, match=wording):
            await client.receive("news", namespace="/", timeout=0.05)
        with pytest.raises(exceptions.TimeoutError, match=r"^no event received within 0\.05s$"):
            await client.receive(timeout=0.05)
