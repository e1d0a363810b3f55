"""aiosio.testing opens no socket and starts no thread.

Sockets: CPython raises an audit event for every socket created (``socket.__new__``), bound,
connected, resolved...; a hook records every such event while a scenario runs, and a control test
shows it sees a socket made on purpose. Threads (Python 3.11 has no audit event for them): the
threads alive at the end of the scenario, still in its event loop, are those alive before it (an
executor's worker threads, once started, stay until the loop closes).
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

from aiohttp import web

import aiosio
from aiosio.testing import TestServer, connect

_recording: list[list[str]] = []


def _hook(event: str, _args: tuple[Any, ...]) -> None:
    if _recording and (event.startswith("socket.") or event.startswith("_thread.")):
        _recording[-1].append(event)


_installed = False


def _install() -> None:
    global _installed
    if not _installed:  # audit hooks cannot be removed: one for the whole run, idle unless recording
        sys.addaudithook(_hook)
        _installed = True


class Recording:
    """``with Recording() as events:`` collects the socket and thread events raised inside."""

    def __enter__(self) -> list[str]:
        _install()
        self.events: list[str] = []
        _recording.append(self.events)
        return self.events

    def __exit__(self, *exc: object) -> None:
        _recording.remove(self.events)


def app_server() -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(namespaces=["/", "/admin"])

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.enter_room(sid, "all")
        await sio.save_session(sid, {"auth": auth})

    @sio.event
    async def relay(sid: str, data: Any) -> str:
        await sio.emit("relayed", data, room="all", skip_sid=sid)
        return "ok"

    return sio


async def test_a_whole_session_opens_no_socket_and_starts_no_thread() -> None:
    sio = app_server()
    app = web.Application()
    sio.attach(app)
    threads = set(threading.enumerate())
    with Recording() as events:
        async with TestServer(sio, app=app) as server:
            for transport in ("websocket", "polling"):
                alice = await server.connect(auth={"u": "alice"}, transport=transport)
                bob = await server.connect(["/", "/admin"], headers={"X-A": "1"}, transport=transport)
                assert await alice.call("relay", {"blob": b"\x00" * 100}) == "ok"
                assert (await bob.receive("relayed")).data == {"blob": b"\x00" * 100}
                await sio.disconnect(bob.sid)
                await alice.disconnect()
                await bob.lose_connection()
        async with TestServer(aiosio.AsyncServer()) as bare:  # without an application
            await bare.connect()
        client = await connect(aiosio.AsyncServer())  # the plain function too
        await client.disconnect()
    assert events == []
    assert set(threading.enumerate()) == threads


async def test_the_hook_sees_a_socket() -> None:
    with Recording() as events:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.close()
    assert "socket.__new__" in events
