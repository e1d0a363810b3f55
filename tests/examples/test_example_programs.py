"""The example apps run as programs, as their READMEs run them: ``python -m apps.<name>``.

Server apps listen on ``$PORT``; client apps talk to ``$URL`` (and stop after ``$ROUNDS`` where the
example loops forever). Servers get SIGTERM at teardown (``start`` fixture: a server that has to be
killed, or that logged an error, fails the test).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import pytest
from example_support import HERE, WAIT, node_log
from node_driver import NodeDriver

from processes import ServerProcess

pytestmark = [pytest.mark.timeout(40)]


async def run_client(name: str, url: str, **env: str) -> str:
    """Run client app *name* against *url* to its end; return its stdout (it must exit 0)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"apps.{name}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE), "URL": url, **env},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"client {name} did not finish") from None
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_greeter_and_simple_clients(programs: Callable[[str], ServerProcess]) -> None:
    """The greeter and ping-pong servers as programs; the simple clients as programs against them."""
    greeter = programs("greeter")
    out = await run_client("simple_greeter_client", greeter.url)
    assert out.strip() == "['greet', 7, 8, {'greet': 'you'}]"
    assert "auth={'token': 'open-sesame'}" in greeter.output()
    pingpong = programs("pingpong")
    out = await run_client("simple_pingpong_client", pingpong.url, ROUNDS="3", PAUSE="0.01")
    assert out.count("round trip") == 3


@pytest.mark.interop
async def test_event_clients_against_node(node_server: ServerProcess) -> None:
    """The event-driven ping-pong client as a program against the Node server."""
    out = await run_client("pingpong_client", node_server.url, ROUNDS="3")
    assert out.splitlines()[0] == "connected"
    assert out.count("round trip") == 3
    assert any(entry["event"] == "disconnect" for entry in node_log(node_server))


@pytest.mark.interop
async def test_kitchen_program(programs: Callable[[str], ServerProcess], node: NodeDriver) -> None:
    """``web.run_app(init_app())``: the page's first steps against the kitchen running as a program."""
    kitchen = programs("kitchen")
    await node.connect("page", kitchen.url)
    await node.event("connect", client="page", timeout=WAIT)
    await node.emit("page", "shout_back", {"text": "page connected"})
    texts = []
    while len(texts) < 2:
        event = await node.event("event", client="page", event="feed", timeout=WAIT)
        texts.append(event["args"][0]["text"])
    assert texts == ["welcome", "page connected"]
    await node.emit("page", "hang_up")
    assert (await node.event("disconnect", client="page", timeout=WAIT))["reason"] == "io server disconnect"
