"""aiosio.testing opens no socket and starts no thread: checked with a Python audit hook.

CPython raises an audit event for every socket created (``socket.__new__``), bound, connected,
resolved..., and for every thread started (``_thread.start_new_thread``); the hook records every
such event while a scenario runs. A control test shows the hook sees a socket made on purpose.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import aiosio
from aiosio.testing import TestServer, connect

_recording: list[list[str]] = []


def _hook(event: str, _args: tuple[Any, ...]) -> None:
    if _recording and (event.startswith("socket.") or event == "_thread.start_new_thread"):
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
    with Recording() as events:
        async with TestServer(sio) as server:
            for transport in ("websocket", "polling"):
                alice = await server.connect(auth={"u": "alice"}, transport=transport)
                bob = await server.connect(["/", "/admin"], headers={"X-A": "1"}, transport=transport)
                assert await alice.call("relay", {"blob": b"\x00" * 100}) == "ok"
                assert (await bob.receive("relayed")).data == {"blob": b"\x00" * 100}
                await sio.disconnect(bob.sid)
                await alice.disconnect()
                await bob.lose_connection()
        client = await connect(aiosio.AsyncServer())  # the plain function too
        await client.disconnect()
    assert events == []


async def test_the_hook_sees_a_socket() -> None:
    with Recording() as events:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.close()
    assert "socket.__new__" in events
