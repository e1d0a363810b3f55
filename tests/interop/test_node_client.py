"""Interop: an in-process aiosio server driven by the npm socket.io-client 4.8.4.

Each scenario runs in three transport modes (see ``conftest.MODES``): WebSocket only, HTTP
long-polling only, and the client default (polling upgraded to WebSocket; the upgrade is
asserted before the scenario proceeds).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from node_driver import MODES, NodeDriver

import aiosio

# A missing node or npm peer skips these (fails them on CI): the `node` fixture, tests/peers.py.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

WAIT = 10.0  # seconds: upper bound for any single expected event


async def open_client(
    node: NodeDriver,
    url: str,
    mode: str,
    client: str,
    *,
    manager: str | None = None,
    wait_upgrade: bool = True,
    **params: Any,
) -> dict[str, Any]:
    """Connect socket *client* in *mode* and return its ``connect`` event.

    In ``upgrade`` mode, also waits until the Engine.IO connection has upgraded to WebSocket
    (pass ``wait_upgrade=False`` for a second socket sharing an already upgraded manager).
    """
    if manager is not None:
        params["manager"] = manager
    await node.connect(client, url, **MODES[mode], **params)
    event = await node.event("connect", client=client, timeout=WAIT)
    if mode == "upgrade":
        if wait_upgrade:
            up = await node.event("upgrade", manager=manager or f"__{client}", timeout=WAIT)
            assert up["transport"] == "websocket"
    else:
        assert event["transport"] == mode
    info = await node.request("info", client=client)
    expected = "polling" if mode == "polling" else "websocket"
    if mode != "upgrade" or wait_upgrade:
        assert info["transport"] == expected
    return event


def digest(data: bytes) -> str:
    """Short stand-in for large payloads in assertions (keeps failure reports readable)."""
    return f"{len(data)}:{hashlib.sha256(data).hexdigest()[:16]}"


def future() -> asyncio.Future[Any]:
    """A fresh future on the running loop."""
    return asyncio.get_running_loop().create_future()


async def test_connect_with_auth(serve: Any, node: NodeDriver, mode: str) -> None:
    """The auth object reaches ``connect(sid, environ, auth)``; the client learns the same sid."""
    sio = aiosio.AsyncServer()
    seen: asyncio.Future[tuple[str, Any]] = future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.set_result((sid, auth))

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a", auth={"token": "abc", "n": 1})
    sid, auth = await asyncio.wait_for(seen, WAIT)
    assert auth == {"token": "abc", "n": 1}
    assert ev["sid"] == sid
    assert handle.handshakes == 1


async def test_connect_refused_with_data(serve: Any, node: NodeDriver, mode: str) -> None:
    """``ConnectionRefusedError('nope', {...})`` becomes the client's ``connect_error``."""
    sio = aiosio.AsyncServer()
    disconnects: list[str] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise aiosio.exceptions.ConnectionRefusedError("nope", {"code": 42})

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        disconnects.append(sid)

    handle = await serve(sio)
    await node.connect("a", handle.url, **MODES[mode])
    err = await node.event("connect_error", client="a", timeout=WAIT)
    assert err["message"] == "nope"
    assert err["data"] == {"code": 42}
    assert node.unclaimed("connect", client="a") == []
    assert disconnects == []  # a refused connection never "connected", so no disconnect


async def test_emit_with_ack_both_ways(serve: Any, node: NodeDriver, mode: str) -> None:
    """Client emits with ack callbacks; server ``call()`` / ``emit(callback=)`` get acked."""
    sio = aiosio.AsyncServer()
    plain: asyncio.Future[Any] = future()

    @sio.event
    async def add(sid: str, a: int, b: int) -> int:
        return a + b

    @sio.event
    async def pair(sid: str, x: Any) -> tuple[Any, ...]:
        return x, [x], {"x": x}

    @sio.event
    async def fire(sid: str, *args: Any) -> None:
        plain.set_result(args)

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a")
    sid = ev["sid"]

    assert await node.call("a", "add", 2, 3) == [5]
    assert await node.call("a", "pair", "é") == ["é", ["é"], {"x": "é"}]
    await node.emit("a", "fire", 1, "two", {"three": [3]})
    assert await asyncio.wait_for(plain, WAIT) == (1, "two", {"three": [3]})

    # Server -> client with an ack (the driver acks by echoing the event's arguments).
    answer = await sio.call("question", {"q": 1, "s": "ünï"}, to=sid, timeout=WAIT)
    assert answer == {"q": 1, "s": "ünï"}
    asked = await node.event("event", client="a", event="question")
    assert asked["ack"] is True

    acked: asyncio.Future[tuple[Any, ...]] = future()
    await sio.emit("question2", ("a", 2, None), to=sid, callback=lambda *args: acked.set_result(args))
    assert await asyncio.wait_for(acked, WAIT) == ("a", 2, None)


async def test_binary_both_ways(serve: Any, node: NodeDriver, mode: str) -> None:
    """Buffers/bytes nested in objects and arrays, several attachments, in every direction."""
    sio = aiosio.AsyncServer()
    received: asyncio.Future[tuple[Any, Any]] = future()
    big = bytes(range(256)) * 1024  # 256 KiB: several TCP segments / a large polling POST

    @sio.event
    async def upload(sid: str, blob: Any, meta: Any) -> Any:
        received.set_result((blob, meta))
        return meta

    @sio.event
    async def upload_big(sid: str, blob: Any) -> Any:
        return [len(blob), digest(blob), blob]

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a")
    sid = ev["sid"]

    meta = {"name": "x", "parts": [b"ab", {"deep": b"\x00\x10\xff"}], "n": 3, "empty": b""}
    ack = await node.call("a", "upload", b"\x00\x01\xff", meta)
    blob, got_meta = await asyncio.wait_for(received, WAIT)
    assert blob == b"\x00\x01\xff"
    assert isinstance(blob, bytes)
    assert got_meta == meta
    assert ack == [meta]

    [(size, sha, back)] = await node.call("a", "upload_big", big, timeout=WAIT)
    assert (size, sha, digest(back)) == (len(big), digest(big), digest(big))

    payload = {"a": b"\x01\x02", "list": [b"xyz", "text", {"b": b"\xfe"}], "s": "text"}
    await sio.emit("download", (payload, b"\x07"), to=sid)
    down = await node.event("event", client="a", event="download")
    assert down["args"] == [payload, b"\x07"]

    small, echoed_big = await sio.call("echo", [b"\x00" * 3, big], to=sid, timeout=WAIT)
    assert (small, digest(echoed_big)) == (b"\x00" * 3, digest(big))


async def test_rooms_and_broadcast(serve: Any, node: NodeDriver, mode: str) -> None:
    """``enter_room``/``leave_room``, ``emit(to=room)``, ``to=[rooms]`` and ``skip_sid``."""
    sio = aiosio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> list[str]:
        await sio.enter_room(sid, room)
        return sorted(r for r in sio.rooms(sid) if r != sid)

    @sio.event
    async def leave(sid: str, room: str) -> bool:
        await sio.leave_room(sid, room)
        return True

    @sio.event
    async def shout(sid: str, room: str, text: str) -> str:
        await sio.emit("shouted", text, to=room, skip_sid=sid)
        return "sent"

    handle = await serve(sio)
    sids = {c: (await open_client(node, handle.url, mode, c))["sid"] for c in ("a", "b", "c")}
    assert len(set(sids.values())) == 3
    assert await node.call("a", "join", "r1") == [["r1"]]
    assert await node.call("b", "join", "r1") == [["r1"]]
    assert await node.call("c", "join", "r2") == [["r2"]]

    async def barrier(tag: str) -> None:
        """Broadcast a marker to everyone and wait until each client got it (order per socket
        is preserved, so anything sent before it has arrived too)."""
        await sio.emit("marker", tag)
        for c in sids:
            await node.event("event", client=c, event="marker", args=[tag])

    def got(client: str, event: str) -> list[Any]:
        return [e["args"] for e in node.unclaimed("event", client=client, event=event)]

    assert await node.call("a", "shout", "r1", "hi") == ["sent"]
    await barrier("m1")
    assert (got("a", "shouted"), got("b", "shouted"), got("c", "shouted")) == ([], [["hi"]], [])

    await sio.emit("news", "for-r2", to="r2")
    await sio.emit("news", "r1+r2-not-b", to=["r1", "r2"], skip_sid=sids["b"])
    await sio.emit("news", "direct-b", to=sids["b"])
    await barrier("m2")
    assert got("a", "news") == [["r1+r2-not-b"]]
    assert got("b", "news") == [["direct-b"]]
    assert got("c", "news") == [["for-r2"], ["r1+r2-not-b"]]

    assert await node.call("b", "leave", "r1") == [True]
    await sio.emit("after", "left", to="r1")
    await barrier("m3")
    assert (got("a", "after"), got("b", "after"), got("c", "after")) == ([["left"]], [], [])
    assert handle.handshakes == 3


async def test_two_namespaces_one_connection(serve: Any, node: NodeDriver, mode: str) -> None:
    """``/`` and ``/chat`` through one Manager share a single Engine.IO connection."""
    sio = aiosio.AsyncServer()
    conn: dict[str, str] = {}

    @sio.on("connect")
    async def connect_main(sid: str, environ: dict[str, Any], auth: Any) -> None:
        conn["/"] = sid

    @sio.on("connect", namespace="/chat")
    async def connect_chat(sid: str, environ: dict[str, Any], auth: Any) -> None:
        conn["/chat"] = sid

    @sio.on("hello")
    async def hello_main(sid: str, x: str) -> str:
        return f"main:{x}"

    @sio.on("hello", namespace="/chat")
    async def hello_chat(sid: str, x: str) -> str:
        return f"chat:{x}"

    handle = await serve(sio)
    main = await open_client(node, handle.url, mode, "main", manager="m", nsp="/")
    chat = await open_client(node, handle.url, mode, "chat", manager="m", nsp="/chat", wait_upgrade=False)
    assert main["eid"] == chat["eid"]
    assert handle.handshakes == 1
    assert main["sid"] == conn["/"]
    assert chat["sid"] == conn["/chat"]
    assert main["sid"] != chat["sid"]

    assert await node.call("main", "hello", "x") == ["main:x"]
    assert await node.call("chat", "hello", "y") == ["chat:y"]

    await sio.emit("only-chat", 1, to=conn["/chat"], namespace="/chat")
    await sio.emit("only-main", 2, to=conn["/"])
    await node.event("event", client="chat", event="only-chat", args=[1])
    await node.event("event", client="main", event="only-main", args=[2])
    assert node.unclaimed("event", client="main", event="only-chat") == []
    assert node.unclaimed("event", client="chat", event="only-main") == []
    assert handle.handshakes == 1


async def test_server_disconnect(serve: Any, node: NodeDriver, mode: str) -> None:
    """``sio.disconnect(sid)`` -> client ``disconnect`` with reason ``io server disconnect``."""
    sio = aiosio.AsyncServer()
    reason: asyncio.Future[str] = future()

    @sio.event
    async def disconnect(sid: str, why: str) -> None:
        reason.set_result(why)

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a")
    await sio.disconnect(ev["sid"])
    gone = await node.event("disconnect", client="a", timeout=WAIT)
    assert gone["reason"] == "io server disconnect"
    assert await asyncio.wait_for(reason, WAIT) == sio.reason.SERVER_DISCONNECT


async def test_client_disconnect(serve: Any, node: NodeDriver, mode: str) -> None:
    """``socket.disconnect()`` -> server ``disconnect(sid, reason)`` gets ``client disconnect``."""
    sio = aiosio.AsyncServer()
    reason: asyncio.Future[tuple[str, str]] = future()

    @sio.event
    async def disconnect(sid: str, why: str) -> None:
        reason.set_result((sid, why))

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a")
    await node.request("disconnect", client="a")
    gone = await node.event("disconnect", client="a", timeout=WAIT)
    assert gone["reason"] == "io client disconnect"
    assert await asyncio.wait_for(reason, WAIT) == (ev["sid"], sio.reason.CLIENT_DISCONNECT)
    assert sio.reason.CLIENT_DISCONNECT == "client disconnect"


async def test_msgpack_parser(serve: Any, node: NodeDriver, mode: str) -> None:
    """``socket.io-msgpack-parser`` on the client, ``serializer='msgpack'`` on the server."""
    sio = aiosio.AsyncServer(serializer="msgpack")
    seen: asyncio.Future[Any] = future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.set_result(auth)

    @sio.event
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    handle = await serve(sio)
    ev = await open_client(node, handle.url, mode, "a", parser="msgpack", auth={"token": "m", "bin": b"\x01"})
    assert await asyncio.wait_for(seen, WAIT) == {"token": "m", "bin": b"\x01"}

    args = [1, -2.5, "ünï", None, True, [1, {"b": b"\x00\xff"}], {"nested": {"x": [b"ab"]}}]
    assert await node.call("a", "echo", *args) == args

    answer = await sio.call("question", {"q": b"\x10\x20", "n": 7}, to=ev["sid"], timeout=WAIT)
    assert answer == {"q": b"\x10\x20", "n": 7}

    await sio.disconnect(ev["sid"])
    gone = await node.event("disconnect", client="a", timeout=WAIT)
    assert gone["reason"] == "io server disconnect"
