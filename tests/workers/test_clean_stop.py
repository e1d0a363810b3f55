"""Stopping and replacing workers under load: every client is told by the server, none by a reset.

``aiosio run --workers N`` with npm socket.io-client peers (``load.js``), WebSocket and
long-polling, emitting acked events while the supervisor gets SIGTERM or SIGHUP.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from typing import Any

import pytest
from test_workers import Start, _running, load, wait_for, worker_pids, workers_cmd

#: ``load`` (the fixture that runs load.js) is test_workers.py's, imported for pytest to find.
USES = (load,)

pytestmark = pytest.mark.timeout(90)


def _reasons(clients: list[dict[str, Any]]) -> collections.Counter[tuple[str, str]]:
    return collections.Counter(
        (c["transport"], c["disconnects"][0] if c["disconnects"] else "-") for c in clients
    )


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_sigterm_every_client_gets_a_clean_close(start: Start, load: Any, loop: str) -> None:
    """SIGTERM to the supervisor while 20 WebSocket and 20 polling clients emit acked events: each
    client's connection ends with the server's Engine.IO close ("transport close" in
    socket.io-client), never a transport error; the supervisor exits 0 within the shutdown
    timeout and leaves no worker behind."""
    server = start(workers_cmd(2, "--loop", loop))
    run = await load(
        server.url,
        clients=40,
        websocket=20,
        mode="steady",
        duration=3,
        settle=0.5,
        ackWait=1000,
        reconnection=False,
    )
    ready = await run.line("ready", 30)
    assert len(set(ready["pids"])) == 2
    await asyncio.sleep(0.5)
    workers = worker_pids(server)
    started = time.monotonic()
    assert await asyncio.to_thread(server.stop, signal.SIGTERM) == 0
    assert time.monotonic() - started < 8  # within --shutdown-timeout 3 + 5
    assert not [pid for pid in workers if _running(pid)]
    result = await run.line("result", 40)
    reasons = _reasons(result["clients"])
    bad = [(c["sids"], c["errors"]) for c in result["clients"] if c["disconnects"][:1] != ["transport close"]]
    assert set(reasons) == {("websocket", "transport close"), ("polling", "transport close")}, (reasons, bad)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_sighup_no_request_is_reset(start: Start, load: Any, loop: str) -> None:
    """SIGHUP replaces both workers one at a time while 15 WebSocket and 25 polling clients emit
    acked events: every client is moved on by an Engine.IO close ("transport close"), reconnects
    at its first attempt (no refused or reset request, no connect error), and no ack fails."""
    server = start(workers_cmd(2, "--loop", loop))
    run = await load(server.url, clients=40, websocket=15, mode="steady", duration=8, retries=5)
    await run.line("ready", 30)
    old = worker_pids(server)
    server.proc.send_signal(signal.SIGHUP)
    await wait_for(lambda: server.output().count("replaced by worker") == 2, 30, "the rolling restart")
    new = worker_pids(server)
    assert len(new) == 2 and not new & old
    result = await run.line("result", 40)
    clients = result["clients"]
    assert [(c["sids"], c["errors"]) for c in clients if c["errors"]] == []
    stale = [c for c in clients if not (c["connected"] and c["pids"][-1] in new)]
    assert stale == [], (new, stale)
    reasons = collections.Counter(r for c in clients for r in c["disconnects"])
    assert set(reasons) == {"transport close"}, reasons
    assert sum(c["failed"] for c in clients) == 0
