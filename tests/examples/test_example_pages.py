"""The server example apps driven as their pages drive them, with the npm socket.io-client.

Each app runs on aiosio and, as the reference the same test must pass on, on python-socketio
(``lib``). The page itself is fetched like a browser would (HTML, its script, the client bundle);
then the test performs the page's script step by step with the npm client (one ``client`` per
browser tab) and checks what the page would log.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import aiohttp
import pytest
from apps import greeter, kitchen, pingpong
from node_driver import MODES, NodeDriver

from conftest import WAIT, RunApp, until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]


async def fetch_page(url: str, scripts: list[str]) -> str:
    """GET the page and every script it loads, as a browser would; return the HTML."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            html = await resp.text()
        for script in ["/vendor/socket.io.min.js", *scripts]:
            assert f'src="{script}"' in html or f'href="{script}"' in html
            async with http.get(url + script) as resp:
                assert resp.status == 200, script
                assert len(await resp.read()) > 20, script
    return html


class Tab:
    """One browser tab running ``static/kitchen.js``, its log as the page would show it."""

    def __init__(self, node: NodeDriver, name: str) -> None:
        self.node = node
        self.name = name
        self.sid = ""
        self.ticks = 0

    async def open(self, url: str, mode: str = "upgrade") -> None:
        """``io()``; on connect the page emits ``shout_back``."""
        await self.node.connect(self.name, url, **MODES[mode])
        event = await self.node.event("connect", client=self.name, timeout=WAIT)
        self.sid = event["sid"]
        await self.submit("shout_back", text="page connected")

    async def submit(self, form: str, **fields: Any) -> None:
        """Submit one of the page's forms."""
        if form == "hang_up":
            await self.node.emit(self.name, form)
        else:
            await self.node.emit(self.name, form, fields)

    async def next_line(self) -> str:
        """The next ``got: ...`` text the page logs, skipping the background ticks (counted)."""
        while True:
            event = await self.node.event("event", client=self.name, event="feed", timeout=WAIT)
            (msg,) = event["args"]
            if msg["text"] == "tick":
                assert msg["beats"] >= 1
                self.ticks += 1
                continue
            return str(msg["text"])

    async def wait_tick(self) -> None:
        """Wait for a background tick; no other line may come meanwhile."""
        event = await self.node.event("event", client=self.name, event="feed", timeout=WAIT)
        assert event["args"][0]["text"] == "tick", event
        assert event["args"][0]["beats"] >= 1


async def test_kitchen_page(lib: ModuleType, run_app: RunApp, node: NodeDriver) -> None:
    """Echo, broadcast, rooms (join, leave, send to, close), the ticker and the disconnect button."""
    running = await run_app(kitchen.build(lib, tick=0.2))
    html = await fetch_page(running.url, ["/static/kitchen.js"])
    for form in ("shout_back", "shout_all", "enter", "depart", "shout_room", "dissolve", "hang_up"):
        assert f'<form id="{form}">' in html

    a, b = Tab(node, "a"), Tab(node, "b")
    await a.open(running.url)
    # The connect handler's greeting comes first, then the echo of what the page sent on connect.
    assert await a.next_line() == "welcome"
    assert await a.next_line() == "page connected"
    await b.open(running.url)
    assert [await b.next_line(), await b.next_line()] == ["welcome", "page connected"]

    await a.submit("shout_back", text="just me")
    assert await a.next_line() == "just me"
    await a.submit("shout_all", text="everyone")
    assert await a.next_line() == "everyone"
    assert await b.next_line() == "everyone"  # not "just me": that went to a alone

    await a.submit("enter", room="r1")
    assert await a.next_line() == "in r1"
    assert running.sio.rooms(a.sid) and "r1" in running.sio.rooms(a.sid)
    await a.submit("shout_room", room="r1", text="r1: a alone")
    assert await a.next_line() == "r1: a alone"
    await b.submit("enter", room="r1")
    assert await b.next_line() == "in r1"  # not "r1: a alone"
    await b.submit("shout_room", room="r1", text="r1: both")
    assert await a.next_line() == "r1: both"
    assert await b.next_line() == "r1: both"
    await a.submit("depart", room="r1")
    assert await a.next_line() == "out of r1"
    await b.submit("shout_room", room="r1", text="r1: b alone")
    assert await b.next_line() == "r1: b alone"
    await a.submit("enter", room="r1")
    assert await a.next_line() == "in r1"  # not "r1: b alone"

    await b.submit("dissolve", room="r1")
    assert await a.next_line() == "r1 closes"
    assert await b.next_line() == "r1 closes"
    assert "r1" not in running.sio.rooms(a.sid)
    await b.submit("shout_room", room="r1", text="r1: nobody")
    await a.submit("shout_back", text="a after close")
    await b.submit("shout_back", text="b after close")
    assert await a.next_line() == "a after close"
    assert await b.next_line() == "b after close"

    # The background task's broadcast reaches both tabs (every 0.2 s here, 10 s in the example).
    for tab in (a, b):
        await tab.wait_tick()

    farewells = running.app[kitchen.FAREWELLS]
    await a.submit("hang_up")
    gone = await node.event("disconnect", client="a", timeout=WAIT)
    assert gone["reason"] == "io server disconnect"
    await until(lambda: len(farewells) == 1, what="disconnect handler for a")
    assert farewells[0] == (a.sid, running.sio.reason.SERVER_DISCONNECT)
    await node.request("disconnect", client="b")
    await until(lambda: len(farewells) == 2, what="disconnect handler for b")
    assert farewells[1] == (b.sid, running.sio.reason.CLIENT_DISCONNECT)


@pytest.mark.parametrize("auth", [None, {"token": "open-sesame"}], ids=["page", "node-client"])
async def test_greeter_page(lib: ModuleType, run_app: RunApp, node: NodeDriver, auth: Any) -> None:
    """The page connects without auth (the Node client example with a token); it logs (7, 8, {...})."""
    running = await run_app(greeter.build(lib))
    await fetch_page(running.url, ["/static/greeter.js"])
    params = {} if auth is None else {"auth": auth}
    await node.connect("page", running.url, **params)
    up = await node.event("connect", client="page", timeout=WAIT)
    greet = await node.event("event", client="page", event="greet", timeout=WAIT)
    assert greet["args"] == [7, 8, {"greet": "you"}]
    seen = running.app[greeter.SEEN]
    # python-socketio passes auth=None when the client sent none.
    assert seen == [("connect", up["sid"], auth)]
    await node.request("disconnect", client="page")
    await until(lambda: len(seen) == 2, what="disconnect handler")
    assert seen[1] == ("disconnect", up["sid"], running.sio.reason.CLIENT_DISCONNECT)


@pytest.mark.parametrize("mode", list(MODES))
async def test_pingpong_page(lib: ModuleType, run_app: RunApp, node: NodeDriver, mode: str) -> None:
    """Ping on connect, ping again after each pong; the page shows the transport in use."""
    running = await run_app(pingpong.build(lib))
    html = await fetch_page(running.url, ["/static/pingpong.js", "/static/pingpong.css"])
    assert 'id="transport"' in html
    await node.connect("page", running.url, **MODES[mode])
    await node.event("connect", client="page", timeout=WAIT)
    if mode == "upgrade":
        await node.event("upgrade", manager="__page", timeout=WAIT)
    for _ in range(5):
        await node.emit("page", "ping_from_client")
        pong = await node.event("event", client="page", event="pong_from_server", timeout=WAIT)
        assert pong["args"] == []
        info = await node.request("info", client="page")
        assert info["transport"] == ("polling" if mode == "polling" else "websocket")
    await node.request("disconnect", client="page")
    assert (await node.event("disconnect", client="page", timeout=WAIT))["reason"] == "io client disconnect"
