"""Deep nesting and integers beyond 64 bits, through aiosio, with real peers.

python-socketio's client (the standard json module on its side) sends a 300-deep list and 2**64+1
and gets them back exactly from aiosio's echo handler and from ``call()``; the npm client receives a
300-deep argument from aiosio and acks it back.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
import socketio as python_socketio

from .conftest import MakeServer
from .test_big_payloads import run_node

pytestmark = pytest.mark.timeout(60)

# Comparing (and repr-ing) 300-deep lists recurses once per level in CPython.
assert sys.getrecursionlimit() >= 1000


def deep(levels: int, leaf: Any) -> list[Any]:
    value: list[Any] = [leaf]
    for _ in range(levels - 1):
        value = [value]
    return value


DEEP = deep(300, "bottom")
BIG = 2**64 + 1
NEG = -(2**70)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_python_socketio_client_round_trips_deep_data_and_big_integers(
    make_server: MakeServer, transport: str
) -> None:
    h = await make_server()
    client = python_socketio.AsyncClient(reconnection=False)
    await client.connect(h.origin, transports=[transport], wait_timeout=5)
    try:
        # Client -> aiosio -> ack back (the harness's echo handler returns its arguments).
        assert await client.call("echo", DEEP, timeout=5) == DEEP
        assert await client.call("echo", BIG, timeout=5) == BIG
        assert await client.call("echo", {"n": NEG, "l": [BIG, DEEP]}, timeout=5) == {
            "n": NEG,
            "l": [BIG, DEEP],
        }
        received = [args for _sid, event, args in h.handled if event == "echo"]
        assert received[0] == (DEEP,)
        assert received[1] == (BIG,) and type(received[1][0]) is int
        # aiosio -> client, as an event and as a call the client acks.
        got: list[Any] = []
        client.on("deep", lambda *args: got.append(args) or args)
        sid = h.connects[0]
        await h.sio.emit("deep", (DEEP, BIG), to=sid)
        assert await h.sio.call("deep", (BIG, DEEP), to=sid, timeout=5) == (BIG, DEEP)
        assert got == [(DEEP, BIG), (BIG, DEEP)]
        # python-engineio's polling client stalls a disconnect that follows its own ack POST at once
        # (until the next PING; the same against python-socketio's server): one more round trip first.
        assert await client.call("echo", "end", timeout=5) == "end"
    finally:
        await client.disconnect()
    h.assert_no_tracebacks()


NODE_DEEP = """
const { io } = require("socket.io-client");
const socket = io(process.argv[1], { transports: [process.argv[2]], reconnection: false });
socket.on("deep", (value, ack) => {
  let depth = 0;
  for (let v = value; Array.isArray(v); v = v[0]) depth++;
  ack(value, depth);
});
socket.on("connect", () => console.log(JSON.stringify({ connected: socket.id })));
socket.on("disconnect", () => process.exit(0));
setTimeout(() => process.exit(2), 20000);
"""


@pytest.mark.interop
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_npm_client_receives_and_acks_a_300_deep_argument(
    make_server: MakeServer, transport: str
) -> None:
    h = await make_server()
    node = asyncio.ensure_future(run_node(NODE_DEEP, h.origin, transport))
    await h.until(lambda: bool(h.connects), timeout=10)
    sid = h.connects[0]
    value, depth = await h.sio.call("deep", DEEP, to=sid, timeout=5)
    assert depth == 300
    assert value == DEEP
    await h.sio.disconnect(sid)
    await node
