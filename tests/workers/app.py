"""The app the ``--workers`` tests serve: ``aiosio run app:sio --workers N`` (from this folder)."""

from __future__ import annotations

import os
from typing import Any

import aiosio

#: PINGs every 2 s, so heartbeats cross the hand-overs during a test, but 10 s for each PONG (a
#: client waits interval + timeout = 12 s for the next PING). With a 2 s timeout, 200 polling
#: clients of one Node process on a loaded 2-core machine saw the next PING up to 4 s apart
#: (interval + the PONG's and the next PING's trip, each behind the client's other requests),
#: and a client or the server gave up on a live session now and then (about 1 run in 20, as
#: often before the hand-over server's rewrite as after it).
sio = aiosio.AsyncServer(ping_interval=2, ping_timeout=10)


@sio.on("echo")
async def echo(sid: str, value: Any) -> Any:
    """The ack is the value."""
    return value


@sio.on("pid")
async def pid(sid: str) -> int:
    """Which worker serves this client."""
    return os.getpid()


@sio.on("join")
async def join(sid: str, room: str) -> bool:
    """Join ``room`` (on this client's worker)."""
    await sio.enter_room(sid, room)
    return True


@sio.on("shout")
async def shout(sid: str, room: str | None, token: Any) -> int:
    """Broadcast ``news`` with ``token`` to ``room`` (None: everyone) from this client's worker."""
    await sio.emit("news", token, to=room)
    return os.getpid()


@sio.on("servers")
async def servers(sid: str) -> int:
    """The cluster's server count, as this worker sees it."""
    return await sio.server_count()


@sio.on("census")
async def census(sid: str) -> list[int]:
    """``[sockets fetched across the cluster, servers that did not answer]``."""
    found = await sio.fetch_sockets(timeout=5)
    return [len(found), found.missing]


@sio.on("askall")
async def askall(sid: str) -> int:
    """How many clients (on every worker) acked an ``ask`` sent to room ``all``."""
    answers = await sio.emit_with_ack("ask", 1, to="all", timeout=10)
    return len(answers)


@sio.on_server_event("hello")
async def hello() -> int:
    """Another worker's server_side_call: answer with this worker's pid."""
    return os.getpid()


@sio.on("peers")
async def peers(sid: str) -> list[Any]:
    """``[pids of the other workers, sorted; how many did not answer]``."""
    answers = await sio.server_side_call("hello", timeout=5)
    return [sorted(answers), answers.missing]
