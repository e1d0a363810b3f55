"""The app of the ``--workers`` recovery tests: ``aiosio run csr_app:sio --workers N`` (from this
folder), connection-state recovery on with the options in ``$AIOSIO_TEST_CSR`` (JSON, ``{}`` for
Node's defaults).

A new socket joins room ``r1`` and gets the session ``{"user": "ann"}``. A controlling client
asks for a numbered ``burst`` of ``n`` events to ``r1``, half of them broadcast by the worker it
is on and half, in turn, by the other workers (``everywhere``), or all by its worker; ``inspect``
tells which worker holds a sid, its rooms and session, from any worker.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiosio

sio = aiosio.AsyncServer(
    connection_state_recovery=json.loads(os.environ.get("AIOSIO_TEST_CSR", "{}")),
    ping_interval=1,
    ping_timeout=1,
)
bursts: dict[str, asyncio.Task[None]] = {}


@sio.event
async def connect(sid: str, environ: dict[str, Any]) -> None:
    """A new socket joins ``r1`` and gets a session (a recovered one keeps its own)."""
    if not sio.recovered(sid):
        await sio.enter_room(sid, "r1")
        async with sio.session(sid) as session:
            session["user"] = "ann"


@sio.on("pid")
async def pid(sid: str) -> int:
    """Which worker serves this client."""
    return os.getpid()


@sio.on_server_event("one")
async def one(i: int) -> int:
    """Another worker's turn in a burst: broadcast ``n`` ``i`` from here."""
    await sio.emit("n", i, to="r1")
    return os.getpid()


@sio.on("burst")
async def burst(sid: str, name: str, count: int, everywhere: bool, base: int = 0) -> int:
    """Start broadcasting ``n`` base..base+count-1 to ``r1`` (odd ones from the other workers when
    ``everywhere``), in order; ``done(name)`` waits for the end."""

    async def run() -> None:
        for i in range(base, base + count):
            if everywhere and i % 2:
                answers = await sio.server_side_call("one", i, timeout=5)
                assert len(answers) >= 1, "no other worker broadcast its turn"
            else:
                await sio.emit("n", i, to="r1")
            if i % 20 == 0:
                await asyncio.sleep(0.002)

    bursts[name] = asyncio.ensure_future(run())
    return os.getpid()


@sio.on("done")
async def done(sid: str, name: str) -> bool:
    """Wait for the burst ``name`` to end (True: it completed)."""
    await bursts.pop(name)
    return True


def _here(sid: str) -> dict[str, Any] | None:
    if not sio.manager.is_connected(sid, "/"):
        return None
    return {"pid": os.getpid(), "rooms": sorted(sio.rooms(sid)), "recovered": sio.recovered(sid)}


@sio.on_server_event("where")
async def where(sid: str) -> dict[str, Any] | None:
    """Another worker asks: is ``sid`` here?"""
    found = _here(sid)
    if found is not None:
        found["session"] = await sio.get_session(sid)
    return found


@sio.on("inspect")
async def inspect(sid: str, target: str) -> dict[str, Any] | None:
    """The worker holding ``target``, its rooms and session (None if nobody has it)."""
    found = await where(target)
    if found is not None:
        return found
    answers = await sio.server_side_call("where", target, timeout=5)
    return next((a for a in answers if a is not None), None)


@sio.on("recovering")
async def recovering(sid: str) -> bool:
    """Whether connection-state recovery is on in this worker."""
    return sio.recovery_stats() is not None


@sio.on("stats")
async def stats(sid: str) -> dict[str, int]:
    """The recovery counters of the hub (fetched now)."""
    store: Any = sio._recovery
    fresh = await store.fetch_stats()
    return dict(vars(fresh))
