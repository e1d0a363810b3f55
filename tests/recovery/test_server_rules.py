"""Server-side rules of recovery: the connect handler on a recovered connection, the private pid,
binary events, other namespaces, and the Node order of the wire (missed events, then CONNECT)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import aiosio

from .cutter import Cutter
from .support import fast_client, until

pytestmark = pytest.mark.timeout(30)

CutterFactory = Callable[[int], Awaitable[Cutter]]

#: What the server reports for a connection reset under it.
LOST = {"transport close", "transport error"}


@pytest.mark.parametrize("skip_middlewares", [True, False])
async def test_the_connect_handler_runs_and_can_refuse_a_recovered_connection(
    serve: Any, cutter: CutterFactory, skip_middlewares: bool
) -> None:
    sio = aiosio.AsyncServer(connection_state_recovery={"skip_middlewares": skip_middlewares})
    seen: list[tuple[str, bool, Any]] = []
    disconnects: list[str] = []

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> bool:
        seen.append((sid, sio.recovered(sid), auth))
        return not sio.recovered(sid) or auth.get("again") is not False

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        disconnects.append(reason)

    handle = await serve(sio)
    relay = await cutter(handle.port)
    auth = {"token": "t"}
    client = fast_client()
    await client.connect(relay.url, transports=["websocket"], auth=lambda: dict(auth))
    sid = client.get_sid()
    relay.cut()
    await until(lambda: len(seen) == 2 and client.connected)
    # The handler saw the client's own auth: the pid (and offset) are the library's.
    assert seen == [(sid, False, {"token": "t"}), (sid, True, {"token": "t"})]
    assert len(disconnects) == 1 and disconnects[0] in LOST
    answers = await sio.fetch_sockets()
    assert answers[0].handshake["auth"] == {"token": "t"}
    # A refusal of a recovered connection: a DISCONNECT (accepted first) or a CONNECT_ERROR.
    auth["again"] = False
    relay.cut()
    await until(lambda: len(seen) == 3)
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await asyncio.sleep(0.2)
    assert seen[2][:2] == (sid, True)
    # Paired: the accepted-then-refused connect (skip_middlewares) gets its disconnect handler
    # through the lost connection only; a refusal never pairs.
    assert len(disconnects) == 2 and set(disconnects) <= LOST
    await client.disconnect()


async def test_binary_events_and_other_namespaces_recover(serve: Any, cutter: CutterFactory) -> None:
    sio = aiosio.AsyncServer(connection_state_recovery=True, namespaces=["/", "/admin"])
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client = fast_client()
    got: list[Any] = []
    client.on("b", lambda *args: got.append(("/", *args)))
    client.on("b", lambda *args: got.append(("/admin", *args)), namespace="/admin")
    await client.connect(relay.url, transports=["websocket"], namespaces=["/", "/admin"])
    sids = dict(client.namespaces)
    relay.cut()
    await until(lambda: not any(sio.manager.is_connected(s, n) for n, s in sids.items()))
    await sio.emit("b", (b"\x01\x02", {"k": b"\x03"}), namespace="/admin")
    await sio.emit("b", "plain", namespace="/")
    await until(lambda: client.connected and len(got) == 2)
    assert sorted(got, key=str) == sorted([("/admin", b"\x01\x02", {"k": b"\x03"}), ("/", "plain")], key=str)
    assert dict(client.namespaces) == sids and client.recovered and client.is_recovered("/admin")
    await client.disconnect()


async def test_the_wire_order_missed_events_then_connect(serve: Any, cutter: CutterFactory) -> None:
    """Node's order, seen by a client: the missed events arrive before the CONNECT reply, which
    carries the same sid and pid; each event's offset is its last argument."""
    sio = aiosio.AsyncServer(connection_state_recovery=True)
    handle = await serve(sio)
    relay = await cutter(handle.port)
    client = fast_client(strip_offsets=False)
    frames: list[tuple[str, Any]] = []
    original_message = client._on_message

    def on_message(engine: Any, data: str | bytes) -> None:
        frames.append(("raw", data))
        original_message(engine, data)

    client._on_message = on_message  # type: ignore[method-assign]
    await client.connect(relay.url, transports=["websocket"])
    sid = client.get_sid()
    assert frames[0][1].startswith(f'0{{"sid":"{sid}","pid":"')
    pid = frames[0][1].split('"pid":"')[1].split('"')[0]
    assert pid != sid
    await sio.emit("e", 1)
    await until(lambda: len(frames) == 2)
    relay.cut()
    await until(lambda: not sio.manager.is_connected(sid, "/"))
    await sio.emit("m", 2)
    await sio.emit("m", 3, to=sid)
    frames.clear()
    await until(lambda: len(frames) == 3)
    first, second, reply = (f[1] for f in frames)
    assert first.startswith('2["m",2,"') and second.startswith('2["m",3,"')
    assert reply == f'0{{"sid":"{sid}","pid":"{pid}"}}'
    await client.disconnect()
