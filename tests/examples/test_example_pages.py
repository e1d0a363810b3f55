"""The server example apps driven as their pages drive them: the npm socket.io-client, and Python clients.

Each app runs on aiosio and, as the reference the same test must pass on, on python-socketio
(``lib``). The page itself is fetched like a browser would (HTML, its script, the client bundle);
then the test performs the page's script step by step with the npm client (one ``client`` per
browser tab; for the kitchen page also aiosio's and python-socketio's ``AsyncClient``) and checks
what the page would log.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from apps import greeter, kitchen, pingpong
from example_support import LIBS, WAIT, RunApp, RunningApp, until
from node_driver import MODES, NodeDriver

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
    """One browser tab running ``static/kitchen.js``: its actions, and its log as the page shows it.

    Backed by the npm client (:class:`NodeTab`) or by a Python client (:class:`PyTab`).
    """

    #: The reason the client reports when the server disconnects it.
    server_disconnect = ""

    def __init__(self) -> None:
        self.sid = ""

    async def open(self, url: str) -> None:
        """``io()``; on connect the page emits ``shout_back``."""
        raise NotImplementedError

    async def submit(self, form: str, **fields: Any) -> None:
        """Submit one of the page's forms."""
        raise NotImplementedError

    async def feed(self) -> dict[str, Any]:
        """The next ``feed`` event's argument."""
        raise NotImplementedError

    async def gone(self) -> str:
        """Wait for the page's disconnect handler; return the reason."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the tab (the client disconnects)."""
        raise NotImplementedError

    async def next_line(self) -> str:
        """The next ``got: ...`` text the page logs, skipping the background ticks."""
        while True:
            msg = await self.feed()
            if msg["text"] != "tick":
                return str(msg["text"])
            assert msg["beats"] >= 1

    async def wait_tick(self) -> None:
        """Wait for a background tick; no other line may come meanwhile."""
        msg = await self.feed()
        assert msg["text"] == "tick", msg
        assert msg["beats"] >= 1


class NodeTab(Tab):
    """A tab whose socket is an npm socket.io-client socket in the Node driver."""

    server_disconnect = "io server disconnect"

    def __init__(self, node: NodeDriver, name: str) -> None:
        super().__init__()
        self.node = node
        self.name = name

    async def open(self, url: str) -> None:
        await self.node.connect(self.name, url)
        self.sid = (await self.node.event("connect", client=self.name, timeout=WAIT))["sid"]
        await self.submit("shout_back", text="page connected")

    async def submit(self, form: str, **fields: Any) -> None:
        await self.node.emit(self.name, form, *([fields] if fields or form != "hang_up" else []))

    async def feed(self) -> dict[str, Any]:
        event = await self.node.event("event", client=self.name, event="feed", timeout=WAIT)
        (msg,) = event["args"]
        return dict(msg)

    async def gone(self) -> str:
        return str((await self.node.event("disconnect", client=self.name, timeout=WAIT))["reason"])

    async def close(self) -> None:
        await self.node.request("disconnect", client=self.name)


class PyTab(Tab):
    """A tab whose socket is a Python ``AsyncClient`` (aiosio's or python-socketio's)."""

    def __init__(self, lib: ModuleType) -> None:
        super().__init__()
        self.sio = lib.AsyncClient()
        self.server_disconnect = self.sio.reason.SERVER_DISCONNECT
        self.feeds: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reasons: asyncio.Queue[str] = asyncio.Queue()

        @self.sio.event
        async def connect() -> None:
            await self.sio.emit("shout_back", {"text": "page connected"})

        self.sio.on("feed", self.feeds.put_nowait)
        self.sio.on("disconnect", self.reasons.put_nowait)

    async def open(self, url: str) -> None:
        await self.sio.connect(url)
        self.sid = self.sio.get_sid()

    async def submit(self, form: str, **fields: Any) -> None:
        await self.sio.emit(form, fields if fields or form != "hang_up" else None)

    async def feed(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.feeds.get(), WAIT)

    async def gone(self) -> str:
        return await asyncio.wait_for(self.reasons.get(), WAIT)

    async def close(self) -> None:
        await self.sio.disconnect()


#: (server library, who plays the page): the npm client (as the browser does) on both servers,
#: aiosio's client on both, python-socketio's client on aiosio's.
KITCHEN = [
    (server, tab)
    for server in LIBS
    for tab in ("npm-client", "aiosio-client", "python-socketio-client")
    if (server, tab) != ("python-socketio", "python-socketio-client")
]


@pytest.mark.parametrize(
    ("server_lib", "tab_kind"), KITCHEN, ids=[f"{tab}-{server}-server" for server, tab in KITCHEN]
)
async def test_kitchen_page(server_lib: str, run_app: RunApp, node: NodeDriver, tab_kind: str) -> None:
    """Echo, broadcast, rooms (join, leave, send to, close), the ticker and the disconnect button."""
    running = await run_app(kitchen.build(LIBS[server_lib], tick=0.2))
    html = await fetch_page(running.url, ["/static/kitchen.js"])
    for form in ("shout_back", "shout_all", "enter", "depart", "shout_room", "dissolve", "hang_up"):
        assert f'<form id="{form}">' in html

    def tab(name: str) -> Tab:
        if tab_kind == "npm-client":
            return NodeTab(node, name)
        return PyTab(LIBS[tab_kind.removesuffix("-client")])

    a, b = tab("a"), tab("b")
    try:
        await kitchen_session(running, a, b)
    finally:
        for t in (a, b):
            if isinstance(t, PyTab):
                await t.close()


async def kitchen_session(running: RunningApp, a: Tab, b: Tab) -> None:
    """What two tabs of the kitchen page do, and what each should log."""
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
    assert "r1" in running.sio.rooms(a.sid)
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
    for t in (a, b):
        await t.wait_tick()

    farewells = running.app[kitchen.FAREWELLS]
    await a.submit("hang_up")
    assert await a.gone() == a.server_disconnect
    await until(lambda: len(farewells) == 1, what="disconnect handler for a")
    assert farewells[0] == (a.sid, running.sio.reason.SERVER_DISCONNECT)
    await b.close()
    await until(lambda: len(farewells) == 2, what="disconnect handler for b")
    assert farewells[1][0] == b.sid
    reasons = {running.sio.reason.CLIENT_DISCONNECT}
    if isinstance(b, PyTab) and b.sio.__module__.startswith("socketio"):
        # python-socketio's client sends DISCONNECT then CLOSE back to back; its own server reports either.
        reasons.add("transport close")
    assert farewells[1][1] in reasons


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
