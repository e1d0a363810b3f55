"""The Admin UI under ``aiosio run --workers 2``: the workers are servers of one cluster (the
supervisor's hub), so an admin connected to any worker gets every worker's server_stats, each under
its own id (``host#pid``), and all_sockets lists the sockets of both."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from admin_support import admin_event, connect_admin
from node_driver import NodeDriver

from processes import AIOSIO, ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]
HERE = Path(__file__).resolve().parent


async def test_every_worker_reports_to_the_admin(
    start: Callable[[list[str]], ServerProcess], node: NodeDriver
) -> None:
    """Two workers, 16 clients spread over them: two serverIds, every socket in all_sockets with
    its own client id and transport."""
    server = start(
        [*AIOSIO, "run", "workers_app:sio", "--app-dir", str(HERE), "--port", "0", "--workers", "2",
         "--no-access-log", "--shutdown-timeout", "3"]
    )  # fmt: skip
    url = server.url.rstrip("/")
    sids, workers, eids = [], set(), {}
    for i in range(16):  # all on one worker: 1 in 32,768
        await node.connect(f"u{i}", url, transports=["polling"])
        connected = await node.event("connect", client=f"u{i}")
        sids.append(connected["sid"])
        eids[connected["sid"]] = connected["eid"]
        workers.add(connected["eid"].split(".")[0])  # a worker's Engine.IO sids start with its tag
    assert len(workers) == 2, workers  # the kernel spread the connections over both workers

    await connect_admin(node, url, transports=["polling"], auth={})
    (sockets,) = await admin_event(node, "all_sockets")
    assert set(sids) <= {s["id"] for s in sockets}
    # Each socket with its own connection and transport, the other worker's too (its fetch answer).
    listed = {s["id"]: (s["clientId"], s["transport"]) for s in sockets if s["id"] in eids}
    assert listed == {sid: (eid, "polling") for sid, eid in eids.items()}
    ids: set[str] = set()
    async with asyncio.timeout(10):
        while len(ids) < 2:
            (stats,) = await admin_event(node, "server_stats")
            ids.add(stats["serverId"])
    host = socket.gethostname()
    assert all(i.startswith(f"{host}#") for i in ids), ids
