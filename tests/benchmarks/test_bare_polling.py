"""The bare aiohttp target's long-polling transport (the polling scenario's ceiling): a real Engine.IO
client (PyPI python-socketio over polling only) gets its echo acks, joins and broadcasts; the
session rules Engine.IO clients rely on hold; the harness's polling scenario runs against it."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from peers import require_module, require_node

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

from harness import procs, topologies  # noqa: E402
from harness.scenarios import ALL_SCENARIOS  # noqa: E402
from harness.targets import all_targets  # noqa: E402

pytestmark = pytest.mark.timeout(60)

SEP = "\x1e"


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[str]:
    """A fresh bare server (started and stopped by the harness, by its pid); its base URL."""
    argv = [sys.executable, str(BENCH / "servers" / "bare_server.py")]
    with (tmp_path / "bare.log").open("w") as log, procs.server(argv, None, log) as (_, port):
        yield f"http://127.0.0.1:{port}"


async def test_python_socketio_client_over_polling(bare: str) -> None:
    """Echo acks (UTF-8 included), join with its ack, a broadcast and a room message all arrive on
    the long poll; a second client on the websocket transport gets the polling client's broadcast."""
    socketio = require_module("socketio")
    poller = socketio.AsyncClient(reconnection=False)
    ws_client = socketio.AsyncClient(reconnection=False)
    got: list[object] = []
    ws_got: list[object] = []
    poller.on("msg", got.append)
    ws_client.on("msg", ws_got.append)
    await poller.connect(bare, transports=["polling"], wait_timeout=10)
    await ws_client.connect(bare, transports=["websocket"], wait_timeout=10)
    try:
        assert poller.transport() == "polling"
        payload = {"user": "bench", "text": "héllo ☃", "n": [1, 2.5, None]}
        assert await poller.call("echo", payload, timeout=5) == payload
        assert await poller.call("join", "r1", timeout=5) is True
        await poller.emit("bcast", {"seq": 1})
        await poller.emit("to_room", ("r1", {"seq": 2}))
        await poller.emit("to_room", ("nobody", {"seq": 3}))
        for _ in range(100):
            if len(got) >= 2 and ws_got:
                break
            await asyncio.sleep(0.05)
        assert got == [{"seq": 1}, {"seq": 2}]
        assert ws_got == [{"seq": 1}]
    finally:
        await poller.disconnect()
        await ws_client.disconnect()


async def test_session_rules(bare: str) -> None:
    """Unknown sid: 400 with Engine.IO's code 1; a GET answers queued packets at once, several in one
    payload; overlapping GETs: 400 and the session is gone; the open packet offers no upgrade."""
    url = f"{bare}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "&sid=nope") as r:
            assert r.status == 400
            assert await r.json() == {"code": 1, "message": "Session ID unknown"}
        async with http.get(url) as r:
            opened = await r.text()
        assert opened.startswith('0{"sid":')
        assert '"upgrades":[]' in opened
        sid = opened.split('"sid":"')[1].split('"')[0]
        session = f"{url}&sid={sid}"
        async with http.post(session, data="40" + SEP + '420["echo","a"]' + SEP + '421["echo",2]') as r:
            assert (r.status, await r.text()) == (200, "ok")
        async with http.get(session) as r:
            packets = (await r.text()).split(SEP)
        assert packets[0].startswith('40{"sid":')
        assert packets[1:] == ['430["a"]', "431[2]"]
        first = asyncio.ensure_future(http.get(session))  # waits: nothing queued
        await asyncio.sleep(0.3)
        async with http.get(session) as r:
            assert r.status == 400
        async with await first as r:  # the waiting one is answered with a close packet
            assert await r.text() == "1"
        async with http.get(session) as r:
            assert r.status == 400
            assert (await r.json())["code"] == 1


def test_polling_scenario_runs_against_bare(tmp_path: Path) -> None:
    """The bare target no longer skips the polling scenario, and the harness's polling load (the
    Node generator's own HTTP/1.1 client) gets acks from it."""
    require_node()
    bare = next(t for t in all_targets() if t.name == "bare")
    assert "polling" not in bare.skips
    base = next(s for s in ALL_SCENARIOS if s.name == "polling")
    scenario = dataclasses.replace(
        base, params={**base.params, "clients": 10, "warmup": 0.2, "duration": 0.5}
    )
    with (tmp_path / "run.log").open("w+") as log:
        result = topologies.run_scenario(bare, scenario, False, procs.pick_cores(), log, 1)
        log.seek(0)
        output = log.read()
    assert result.get("ok"), f"{result.get('error')}\n{output[-2000:]}"
    assert result["clients"] == 10
    assert result["metrics"]["acks_per_s"] > 0
