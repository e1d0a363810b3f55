"""Sessions survive the crash of their node: a client of an aiosio node that is SIGKILLed (a real
process) while 1,000 numbered messages go to a room it is in recovers on another aiosio node with
the same sid, rooms and session, and nothing missed. Node's adapter writes a session only when its
node notices the loss, so a killed Node node takes its sessions with it (socket.io#5413); aiosio's
store writes them through as they change."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cluster.redis_fixtures import RedisServer
from processes import ServerProcess
from recovery.cutter import Cutter
from recovery.support import counting_client, until

from .conftest import Names
from .test_csr_nodes import broadcast, start_nodes

pytestmark = pytest.mark.timeout(60)

APP = Path(__file__).with_name("csr_app.py")


async def test_a_killed_node_s_client_recovers_on_another_node(
    serve: Any,
    redis_server: RedisServer,
    names: Names,
    cutter: Callable[[int], Awaitable[Cutter]],
    start: Callable[[list[str]], ServerProcess],
) -> None:
    proc = start([sys.executable, str(APP), redis_server.url, names.stream, names.prefix, names.sessions])
    port = int(proc.url.rsplit(":", 1)[1])
    [b] = await start_nodes(serve, redis_server.url, names, count=1, servers=2)
    relay = await cutter(port)
    client, got, sid = await counting_client(relay.url)
    task = asyncio.ensure_future(broadcast(b))
    await until(lambda: len(got) >= 100)
    relay.upstream_port = b.port
    proc.proc.send_signal(signal.SIGKILL)  # no clean disconnect, nothing written at the end
    await asyncio.to_thread(proc.proc.wait, 5)
    relay.cut()
    await task
    await until(lambda: len(got) >= 1000 and client.connected and len(b.connects) == 1, timeout=20)
    await asyncio.sleep(0.2)
    assert got == list(range(1000))
    assert b.connects == [(sid, True)] and client.recovered and client.get_sid() == sid
    assert b.sio.rooms(sid) == [sid, "r1"]
    assert (await b.sio.get_session(sid)) == {"user": "ann"}
    await client.disconnect()
