"""AsyncClient against aiosio's server and the Node reference server, in every transport mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio import exceptions
from aiosio.client import AsyncClient, AsyncClientNamespace

from .conftest import AUTH, until

pytestmark = pytest.mark.timeout(60)


def make_client(**kwargs: Any) -> AsyncClient:
    kwargs.setdefault("reconnection_delay", 0.05)
    kwargs.setdefault("reconnection_delay_max", 0.2)
    kwargs.setdefault("handle_sigint", False)
    return AsyncClient(**kwargs)


async def check_transport(client: AsyncClient, mode: str) -> None:
    if mode == "upgrade":
        await until(lambda: client.transport() == "websocket")
    else:
        assert client.transport() == mode


async def test_connect_with_auth(peer: Any, mode: str, transports: Any) -> None:
    client = make_client()
    connected: list[str] = []
    client.on("connect", lambda: connected.append("/"))
    client.on("connect", lambda: connected.append("/chat"), namespace="/chat")
    await client.connect(peer.url, auth=AUTH, transports=transports, namespaces=["/", "/chat"])
    try:
        assert client.connected
        assert set(client.namespaces) == {"/", "/chat"}
        assert sorted(connected) == ["/", "/chat"]
        assert client.sid is not None
        sid, chat_sid = client.get_sid(), client.get_sid("/chat")
        assert sid and chat_sid and sid != chat_sid
        await check_transport(client, mode)
        info = await client.call("whoami", timeout=5)
        assert info["nsp"] == "/"
        assert info["transport"] == ("polling" if mode == "polling" else "websocket")
        if peer.kind == "node":
            assert info["auth"] == AUTH
    finally:
        await client.disconnect()
    assert not client.connected
    assert client.namespaces == {}
    assert client.transport() is None


async def test_auth_as_coroutine_and_headers_as_function(peer: Any, transports: Any) -> None:
    client = make_client()
    calls: list[str] = []

    async def auth() -> dict[str, str]:
        calls.append("auth")
        return AUTH

    def headers() -> dict[str, str]:
        calls.append("headers")
        return {"X-Test": "1"}

    async def url() -> str:
        calls.append("url")
        return peer.url + "/?custom=yes"

    await client.connect(url, headers=headers, auth=auth, transports=transports)
    try:
        assert sorted(calls) == ["auth", "headers", "url"]
        if peer.kind == "node":
            info = await client.call("whoami", timeout=5)
            assert info["query"]["custom"] == "yes"
    finally:
        await client.disconnect()


async def test_connect_refused(peer: Any, transports: Any) -> None:
    client = make_client()
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(exceptions.ConnectionError, match="failed to connect: /"):
        await client.connect(peer.url, auth={"token": "wrong"}, transports=transports, wait_timeout=5)
    assert errors == [{"message": "not authorized", "data": {"reason": "bad token"}}]
    assert not client.connected
    assert client.failed_namespaces == ["/"]
    await client.wait()  # ended for good: returns at once


async def test_connect_refused_one_namespace_of_two(peer: Any, transports: Any) -> None:
    client = make_client()
    errors: list[Any] = []
    disconnects: list[str] = []
    client.on("connect_error", lambda data: errors.append(data), namespace="/nope")
    client.on("disconnect", lambda reason: disconnects.append(reason))
    with pytest.raises(exceptions.ConnectionError, match="failed to connect: /nope"):
        await client.connect(
            peer.url, auth=AUTH, transports=transports, namespaces=["/", "/nope"], wait_timeout=5
        )
    assert len(errors) == 1
    # Node and aiosio send {"message": ...}; python-socketio a bare "Unable to connect".
    assert errors[0]["message"] if isinstance(errors[0], dict) else errors[0] == "Unable to connect"
    # "/" was joined before the attempt failed: its disconnect handler ran.
    assert disconnects == [client.reason.CLIENT_DISCONNECT]


async def test_server_unreachable() -> None:
    client = make_client(request_timeout=2)
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(exceptions.ConnectionError, match="Connection error"):
        await client.connect("http://127.0.0.1:1", auth=AUTH)
    assert len(errors) == 1 and "Connection error" in errors[0]


async def test_events_and_acks_both_ways(peer: Any, mode: str, transports: Any) -> None:
    client = make_client()
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on("echo", lambda *args: received.put_nowait(args))

    @client.event
    async def question(payload: Any) -> Any:
        await asyncio.sleep(0)
        return {"answer": payload}

    await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        await check_transport(client, mode)
        # client -> server with ack, one and several arguments
        assert await client.call("echo", "hello", timeout=5) == "hello"
        assert await client.call("echo", (1, [2], {"three": 3}), timeout=5) == (1, [2], {"three": 3})
        assert await client.call("echo", timeout=5) is None
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future = await client.emit("echo", ("a", "b"), callback=lambda *a: acked.set_result(a))
        assert future is not None
        assert await asyncio.wait_for(acked, 5) == ("a", "b")
        assert await asyncio.wait_for(future, 5) == ("a", "b")
        # server -> client event
        await client.emit("emit_to_me", ("echo", "x", 2))
        assert await asyncio.wait_for(received.get(), 5) == ("x", 2)
        # server -> client call: the handler's return value is the ack
        assert await client.call("ask_client", 42, timeout=5) == {"answer": 42}
        # send() is an emit of 'message'
        client.on("message", lambda data: received.put_nowait(("message", data)))
        await client.emit("emit_to_me", ("message", "m"))
        assert await asyncio.wait_for(received.get(), 5) == ("message", "m")
    finally:
        await client.disconnect()


async def test_sync_handler_ack_and_catch_all(peer: Any, transports: Any) -> None:
    client = make_client()
    seen: list[Any] = []
    client.on("question", lambda payload: [payload, "sync"])
    client.on("*", lambda event, *args: seen.append((event, *args)))
    await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        assert await client.call("ask_client", "q", timeout=5) == ["q", "sync"]
        await client.emit("emit_to_me", ("anything", 1, "two"))
        await until(lambda: seen == [("anything", 1, "two")])
    finally:
        await client.disconnect()


async def test_binary_both_ways(peer: Any, mode: str, transports: Any) -> None:
    client = make_client()
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on("bin", lambda *args: received.put_nowait(args))
    client.on("question", lambda payload: {"back": payload, "extra": b"\xff\x00"})
    await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        await check_transport(client, mode)
        blob = bytes(range(256)) * 40
        data = {"a": blob, "list": [b"", b"\x00", "text"], "n": None}
        assert await client.call("echo", data, timeout=5) == data
        assert await client.call("echo", (b"one", b"two"), timeout=5) == (b"one", b"two")
        await client.emit("emit_to_me", ("bin", b"\x01\x02", {"nested": [b"\x03"]}))
        assert await asyncio.wait_for(received.get(), 5) == (b"\x01\x02", {"nested": [b"\x03"]})
        # binary in an ack from the client to the server, and back
        assert await client.call("ask_client", b"\x10", timeout=5) == {"back": b"\x10", "extra": b"\xff\x00"}
    finally:
        await client.disconnect()


async def test_msgpack(msgpack_peer: Any, mode: str, transports: Any) -> None:
    client = make_client(serializer="msgpack")
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on("echo", lambda *args: received.put_nowait(args), namespace="/chat")
    client.on("question", lambda payload: {"answer": payload})
    await client.connect(msgpack_peer.url, auth=AUTH, transports=transports, namespaces=["/", "/chat"])
    try:
        await check_transport(client, mode)
        assert await client.call("echo", {"b": b"\x00\xff", "i": 2**40, "f": 1.5}, timeout=5) == {
            "b": b"\x00\xff",
            "i": 2**40,
            "f": 1.5,
        }
        await client.emit("emit_to_me", ("echo", b"bin", "txt"), namespace="/chat")
        assert await asyncio.wait_for(received.get(), 5) == (b"bin", "txt")
        assert await client.call("ask_client", [1, b"2"], timeout=5) == {"answer": [1, b"2"]}
    finally:
        await client.disconnect()


async def test_namespaces_multiplexed(peer: Any, transports: Any) -> None:
    client = make_client()
    root: list[Any] = []
    chat: list[Any] = []
    client.on("echo", lambda *a: root.append(a))
    client.on("echo", lambda *a: chat.append(a), namespace="/chat")
    await client.connect(peer.url, auth=AUTH, transports=transports)
    assert set(client.namespaces) == {"/", "/chat"}  # the namespaces with handlers
    try:
        assert (await client.call("whoami", namespace="/chat", timeout=5))["nsp"] == "/chat"
        await client.emit("emit_to_me", ("echo", "to-root"))
        await client.emit("emit_to_me", ("echo", "to-chat"), namespace="/chat")
        await until(lambda: root == [("to-root",)] and chat == [("to-chat",)])
        with pytest.raises(exceptions.BadNamespaceError):
            await client.emit("echo", 1, namespace="/not-joined")
    finally:
        await client.disconnect()


async def test_namespace_catch_all_and_class_namespace(peer: Any, transports: Any) -> None:
    client = make_client()
    seen: list[Any] = []
    client.on("echo", lambda ns, *a: seen.append(("echo", ns, *a)), namespace="*")
    client.on("*", lambda event, ns, *a: seen.append(("any", event, ns, *a)), namespace="*")

    class Chat(AsyncClientNamespace):
        def __init__(self) -> None:
            super().__init__("/chat")
            self.events: list[Any] = []

        def on_connect(self) -> None:
            self.events.append("connect")

        def on_disconnect(self, reason: str) -> None:
            self.events.append(("disconnect", reason))

    chat = Chat()
    client.register_namespace(chat)
    await client.connect(peer.url, auth=AUTH, transports=transports, namespaces=["/", "/chat"])
    try:
        await client.emit("emit_to_me", ("echo", 1))
        await client.emit("emit_to_me", ("other", 2))
        await chat.emit("emit_to_me", ("echo", 3))
        assert await chat.call("echo", "via-namespace", timeout=5) == "via-namespace"
        # As in python-socketio, function handlers (even for namespace '*') win over a class-based
        # namespace; lifecycle events, which catch-alls never get, reach the class.
        await until(lambda: len(seen) == 3)
        assert seen == [("echo", "/", 1), ("any", "other", "/", 2), ("echo", "/chat", 3)]
        assert chat.events == ["connect"]
    finally:
        await client.disconnect()
    assert chat.events[-1] == ("disconnect", "client disconnect")


async def test_class_namespace(peer: Any, transports: Any) -> None:
    class Chat(AsyncClientNamespace):
        def __init__(self) -> None:
            super().__init__("/chat")
            self.events: list[Any] = []

        async def on_connect(self) -> None:
            self.events.append("connect")

        async def on_echo(self, *args: Any) -> None:
            self.events.append(("echo", *args))

        def on_question(self, payload: Any) -> Any:
            return ["answer", payload]

        async def on_disconnect(self, reason: str) -> None:
            self.events.append(("disconnect", reason))

    client = make_client()
    chat = Chat()
    client.register_namespace(chat)
    with pytest.raises(ValueError):
        client.register_namespace(object())  # type: ignore[arg-type]
    await client.connect(peer.url, auth=AUTH, transports=transports)
    assert set(client.namespaces) == {"/chat"}
    try:
        await chat.emit("emit_to_me", ("echo", 3))
        assert await chat.call("ask_client", 1, timeout=5) == ["answer", 1]
        await until(lambda: len(chat.events) == 2)
        assert chat.events == ["connect", ("echo", 3)]
    finally:
        await chat.disconnect()
    assert chat.events[-1] == ("disconnect", "client disconnect")


async def test_server_disconnect(peer: Any, transports: Any) -> None:
    client = make_client()
    reasons: list[Any] = []
    client.on("disconnect", lambda reason: reasons.append(("/", reason)))
    client.on("disconnect", lambda reason: reasons.append(("/chat", reason)), namespace="/chat")
    await client.connect(peer.url, auth=AUTH, transports=transports, namespaces=["/", "/chat"])
    await client.emit("disconnect_me", namespace="/chat")
    await until(lambda: reasons == [("/chat", "server disconnect")])
    assert set(client.namespaces) == {"/"} and client.connected
    with pytest.raises(exceptions.BadNamespaceError):
        await client.emit("echo", namespace="/chat")
    # the last namespace going away ends the connection, without reconnecting
    await client.emit("disconnect_me")
    await asyncio.wait_for(client.wait(), 5)
    assert reasons[-1] == ("/", "server disconnect")
    assert not client.connected
    assert client.transport() is None


async def test_legacy_disconnect_handler_without_reason(peer: Any) -> None:
    client = make_client()
    calls: list[str] = []

    @client.event
    def disconnect() -> None:
        calls.append("disconnected")

    await client.connect(peer.url, auth=AUTH)
    await client.disconnect()
    assert calls == ["disconnected"]


async def test_emit_timeout_and_call_timeout(peer: Any, transports: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH, transports=transports)
    try:
        # nothing handles "nobody_home", so no acknowledgement ever comes
        future = await client.emit("nobody_home", "t1", timeout=0.2)
        assert future is not None
        with pytest.raises(exceptions.TimeoutError):
            await asyncio.wait_for(future, 5)
        with pytest.raises(exceptions.TimeoutError):
            await client.call("nobody_home", "t2", timeout=0.2)
        # a late ack after the deadline is ignored, and the connection is still fine
        assert await client.call("echo", "ok", timeout=5) == "ok"
    finally:
        await client.disconnect()


async def test_call_fails_fast_when_disconnecting(peer: Any, transports: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH, transports=transports)
    call = asyncio.ensure_future(client.call("nobody_home", "never-acked", timeout=60))
    await asyncio.sleep(0.1)
    await client.disconnect()
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(call, 2)


async def test_connect_wait_false(peer: Any, transports: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH, transports=transports, wait=False, namespaces=["/", "/chat"])
    try:
        assert client.connected
        # buffered until the namespace is joined, then sent
        assert await client.call("echo", "early", namespace="/chat", timeout=5) == "early"
        await until(lambda: set(client.namespaces) == {"/", "/chat"})
    finally:
        await client.disconnect()


async def test_already_connected(peer: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH)
    try:
        with pytest.raises(exceptions.ConnectionError, match="Already connected"):
            await client.connect(peer.url, auth=AUTH)
    finally:
        await client.disconnect()


async def test_emit_unserializable_raises_in_caller(peer: Any) -> None:
    client = make_client()
    await client.connect(peer.url, auth=AUTH)
    try:
        with pytest.raises(TypeError):
            await client.emit("echo", object(), timeout=1)
        assert await client.call("echo", 1, timeout=5) == 1
    finally:
        await client.disconnect()


async def test_emit_when_never_connected_raises() -> None:
    client = make_client()
    with pytest.raises(exceptions.BadNamespaceError):
        await client.emit("echo", 1)
    with pytest.raises(exceptions.BadNamespaceError):
        await client.call("echo", 1)


async def test_shared_http_session_is_not_closed(peer: Any, transports: Any) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        client = make_client(http_session=session)
        await client.connect(peer.url, auth=AUTH, transports=transports)
        assert await client.call("echo", "s", timeout=5) == "s"
        await client.disconnect()
        assert not session.closed
