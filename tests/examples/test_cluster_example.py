"""examples/cluster/ as docs/scaling.md runs it: one redis-server, two aiosio servers
(``python_node.py``) and a Node socket.io server (``node_node.js``) as real processes, clients on
each (the npm socket.io-client and the aiosio client), and the two emitter scripts.

Each server is a program started as the docs show (``PORT=... python examples/cluster/python_node.py``)
and stopped by pid (the ``start`` fixture: SIGTERM, and a server that logged an error fails the test).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from example_support import WAIT, free_port, until
from node_driver import NodeDriver

import aiosio
from cluster.redis_fixtures import RedisServer
from peers import require_executable, require_node
from processes import ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.timeout(20)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cluster"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh redis-server on a free port (SIGKILLed by pid at the end)."""
    server = RedisServer(require_executable("redis-server"), tmp_path / "redis").start()
    try:
        yield f"{server.url}/0"
    finally:
        server.kill()


@pytest.fixture
def cluster(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, start: Callable[[list[str]], ServerProcess]
) -> Callable[[str, list[str]], ServerProcess]:
    """``cluster("A", cmd)`` starts one example server named A on a free port, on that Redis."""
    require_node()
    monkeypatch.setenv("REDIS_URL", redis_url)

    def run(name: str, cmd: list[str]) -> ServerProcess:
        monkeypatch.setenv("PORT", str(free_port()))
        monkeypatch.setenv("NAME", name)
        return start(cmd)

    return run


async def run_script(*cmd: str) -> str:
    """Run an emitter script to its end (it must exit 0 within a few seconds); its stderr."""
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ)
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{cmd} did not finish") from None
    assert proc.returncode == 0, err.decode()
    return err.decode()


class Chats:
    """The ``chat`` events every client received, by client name, in order."""

    def __init__(self, node: NodeDriver) -> None:
        self.node = node
        self.py: list[dict[str, Any]] = []

    def of(self, client: str) -> list[dict[str, Any]]:
        if client == "b":
            return self.py
        return [
            e["args"][0] for e in self.node.events if e.get("client") == client and e.get("event") == "chat"
        ]

    async def reach(self, clients: list[str], text: str) -> None:
        for client in clients:
            await until(
                lambda c=client: any(m["text"] == text for m in self.of(c)), WAIT, f"{text!r} at {client}"
            )


async def test_a_broadcast_and_both_emitters_reach_every_server(
    cluster: Callable[[str, list[str]], ServerProcess], node: NodeDriver
) -> None:
    """A, B: aiosio servers; C: a Node server. Clients a and idle (not in the room) on A, b on B (the
    aiosio client), c on C. Room broadcasts, a broadcast to everyone from the Node side, the cluster
    view (``who``: fetch_sockets and server_count on either kind of server), and the two emitters."""
    server_a = cluster("A", [sys.executable, str(EXAMPLE / "python_node.py")])
    server_b = cluster("B", [sys.executable, str(EXAMPLE / "python_node.py")])
    server_c = cluster("C", ["node", str(EXAMPLE / "node_node.js")])

    async with aiohttp.ClientSession() as http:  # both kinds of server serve the page and its bundle
        for server in (server_a, server_c):
            async with http.get(server.url + "/") as page:
                assert page.status == 200 and "/socket.io/socket.io.min.js" in await page.text()
            async with http.get(server.url + "/socket.io/socket.io.min.js") as bundle:
                assert bundle.status == 200 and len(await bundle.read()) > 10_000

    chats = Chats(node)
    for name, server in (("a", server_a), ("idle", server_a), ("c", server_c)):
        await node.connect(name, server.url, transports=["websocket"])
        await node.event("connect", client=name, timeout=WAIT)
    welcome = await node.event("event", client="c", event="welcome", timeout=WAIT)
    assert welcome["args"] == [{"server": "C"}]
    assert await node.call("a", "join", "lobby") == [{"server": "A", "room": "lobby"}]
    assert await node.call("c", "join", "lobby") == [{"server": "C", "room": "lobby"}]

    b = aiosio.AsyncClient()
    b.on("chat", chats.py.append)
    await b.connect(server_b.url, transports=["websocket"], wait_timeout=WAIT)
    try:
        assert await b.call("join", "lobby", timeout=WAIT) == {"server": "B", "room": "lobby"}

        # Every server counts three, and sees the four sockets of the cluster.
        sids = sorted([*(e["sid"] for e in node.events if e["type"] == "connect"), b.get_sid()])
        for ask in (lambda: b.call("who", timeout=WAIT), lambda: _node_who(node, "c")):
            answer = await ask()
            assert answer == {"servers": 3, "sockets": sids, "missing": 0}

        # A room broadcast from the aiosio client on B: the members on A, B and C get it; idle not.
        await b.emit("chat", {"text": "lobby from b", "room": "lobby"})
        await chats.reach(["a", "b", "c"], "lobby from b")
        # A broadcast to everyone from the client of the Node server; B published the room one
        # first, so idle (on A) would have had it by now, in order, had it been sent there.
        await node.emit("c", "chat", {"text": "all from c"})
        await chats.reach(["a", "idle", "b", "c"], "all from c")
        assert [m["text"] for m in chats.of("idle")] == ["all from c"]
        assert {"server": "C", "text": "all from c"} in chats.of("b")

        # The worker script (aiosio.RedisEmitter) reaches everyone; Node's redis-emitter a room.
        await run_script(sys.executable, str(EXAMPLE / "emit_from_worker.py"), "from the worker")
        await chats.reach(["a", "idle", "b", "c"], "from the worker")
        await run_script(
            sys.executable, str(EXAMPLE / "emit_from_worker.py"), "room worker", "--room", "lobby"
        )
        await run_script("node", str(EXAMPLE / "emit_from_node.js"), "from node", "lobby")
        await chats.reach(["a", "b", "c"], "room worker")
        await chats.reach(["a", "b", "c"], "from node")
        await node.emit("c", "chat", {"text": "last"})
        await chats.reach(["idle"], "last")
        assert [m["text"] for m in chats.of("idle")] == ["all from c", "from the worker", "last"]
        assert {"server": "node-worker", "text": "from node"} in chats.of("a")
    finally:
        await b.disconnect()


async def _node_who(node: NodeDriver, client: str) -> Any:
    answer = await node.call(client, "who")
    return answer[0]
