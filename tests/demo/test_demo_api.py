"""The demo's JSON API, page, client bundle and Socket.IO events, against a real socket."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiosio
from aiosio.demo.app import SIO_KEY, create_app
from aiosio.demo.bundle import add_client_routes, find_client_bundle
from aiosio.demo.store import MAX_TITLE_LENGTH, TUTORIAL_TODOS
from aiosio.testing import TestClient
from aiosio.testing import TestServer as InProcessServer

JSON = {"Content-Type": "application/json"}
REPO = Path(__file__).resolve().parents[2]


def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Peer:
    """A Socket.IO client that queues every event it receives, by name."""

    def __init__(self) -> None:
        self.client = aiosio.AsyncClient(reconnection=False)
        self.events: defaultdict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.client.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events[event].put_nowait(args[0] if len(args) == 1 else list(args))

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        return await asyncio.wait_for(self.events[event].get(), timeout)

    async def call(self, event: str, *args: Any) -> Any:
        return await self.client.call(event, args if len(args) != 1 else args[0], timeout=5)


@asynccontextmanager
async def peer(server: TestServer) -> AsyncIterator[Peer]:
    p = Peer()
    await p.client.connect(base_url(server), transports=["websocket"])
    try:
        yield p
    finally:
        await p.client.disconnect()


# The chat tests need only the Socket.IO layer: they run on aiosio.testing's in-process client
# (docs/testing.md, "Testing your app without a port"), the demo app started without a port.


@pytest.fixture
async def demo_sio(db_path: Path) -> AsyncIterator[InProcess]:
    """The demo app started (its startup and shutdown run) with no port; ``.connect()`` a client."""
    app = create_app(db_path)
    sio = app[SIO_KEY]
    assert isinstance(sio, aiosio.AsyncServer)
    async with InProcess(sio, app) as server:
        yield server


class InProcess(InProcessServer):
    """A TestServer whose clients look like :class:`Peer` to the tests (``next``, ``call``)."""

    @asynccontextmanager
    async def peer(self) -> AsyncIterator[InProcessPeer]:
        client = await self.connect()
        try:
            yield InProcessPeer(client)
        finally:
            await client.disconnect()


class InProcessPeer:
    """:class:`Peer`'s methods over an in-process test client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        received = await self.client.receive(event, timeout=timeout)
        return received.args[0] if len(received.args) == 1 else received.args

    async def call(self, event: str, *args: Any) -> Any:
        return await self.client.call(event, args if len(args) != 1 else args[0], timeout=5)

    def received(self, event: str) -> list[Any]:
        """Every ``event`` that arrived (also those :meth:`next` returned)."""
        return [r.data for r in self.client.received if r.event == event]


# -- JSON API --------------------------------------------------------------------------------------


# The aiohttp tutorial's list, as its server answered / and /todos: string ids, titles.
TUTORIAL_SHAPE = [
    {"id": "1", "title": "Go to the garden"},
    {"id": "2", "title": "Buy groceries"},
    {"id": "3", "title": "Read a book"},
]


async def test_list_and_root_negotiation(demo_server: TestServer, http: aiohttp.ClientSession) -> None:
    url = base_url(demo_server)
    async with http.get(f"{url}/todos") as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        todos = await r.json()
        assert todos == list(TUTORIAL_TODOS)
        # The tutorial's fields, exactly; `completed` is the demo's one extra field.
        assert [{k: t[k] for k in ("id", "title")} for t in todos] == TUTORIAL_SHAPE
        assert all(set(t) == {"id", "title", "completed"} for t in todos)
    async with http.get(f"{url}/", headers={"Accept": "application/json"}) as r:
        assert r.content_type == "application/json"
        assert await r.json() == list(TUTORIAL_TODOS)
    for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
        async with http.get(f"{url}/", headers={"Accept": accept}) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "Vary" in r.headers
            page = await r.text()
            assert '<script src="/socket.io/socket.io.min.js"' in page
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    async with http.get(f"{url}/static/app.js") as r:
        assert r.status == 200
        assert "textContent" in await r.text()


async def test_create_update_delete(demo_server: TestServer, http: aiohttp.ClientSession) -> None:
    url = base_url(demo_server)
    async with http.post(f"{url}/todos", json={"title": "  Buy milk "}) as r:
        assert r.status == 201
        todo = await r.json()
        assert todo == {"id": "4", "title": "Buy milk", "completed": False}
        assert r.headers["Location"] == "/todos/4"
    async with http.get(f"{url}/todos/4") as r:
        assert await r.json() == todo
    async with http.patch(f"{url}/todos/4", json={"completed": True}) as r:
        assert r.status == 200
        assert await r.json() == {"id": "4", "title": "Buy milk", "completed": True}
    async with http.patch(f"{url}/todos/4", json={"title": "Buy oat milk", "completed": False}) as r:
        assert await r.json() == {"id": "4", "title": "Buy oat milk", "completed": False}
    async with http.delete(f"{url}/todos/4") as r:
        assert r.status == 204
    async with http.get(f"{url}/todos") as r:
        assert [t["id"] for t in await r.json()] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"{not json", JSON, 400, "not valid JSON"),
        (b"\xff\xfe", JSON, 400, "not valid JSON"),
        (b"[1, 2]", JSON, 400, "JSON object"),
        (b"{}", JSON, 400, "'title' is required"),
        (b'{"title": ""}', JSON, 400, "must not be empty"),
        (b'{"title": 3}', JSON, 400, "must be a string"),
        (json.dumps({"title": "x" * (MAX_TITLE_LENGTH + 1)}).encode(), JSON, 400, "at most"),
        (b'{"title": "a", "completed": "no"}', JSON, 400, "true or false"),
        (b'{"title": "a", "priority": 1}', JSON, 400, "unknown field"),
        # The old 0.1 field name is reported, not silently ignored.
        (b'{"name": "a"}', JSON, 400, "unknown field(s): 'name'"),
        (b'{"title": "a"}', {"Content-Type": "text/plain"}, 415, "application/json"),
        (b'{"title": "a"}', {}, 415, "application/json"),
        (json.dumps({"title": "a" * 20000}).encode(), JSON, 413, "too large"),
    ],
)
async def test_create_rejects_bad_input(
    demo_server: TestServer,
    http: aiohttp.ClientSession,
    body: bytes,
    headers: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    async with http.post(f"{base_url(demo_server)}/todos", data=body, headers=headers) as r:
        assert r.status == status
        assert r.content_type == "application/json"
        error = await r.json()
        assert set(error) == {"error"}
        assert fragment in error["error"]
    async with http.get(f"{base_url(demo_server)}/todos") as r:
        assert len(await r.json()) == 3  # nothing was added


async def test_update_and_delete_errors(demo_server: TestServer, http: aiohttp.ClientSession) -> None:
    url = base_url(demo_server)
    cases = [
        ("PATCH", "/todos/99", {"completed": True}, 404, "no todo with id 99"),
        ("PATCH", "/todos/abc", {"completed": True}, 404, "no todo with id 'abc'"),
        ("PATCH", "/todos/1", {}, 400, "nothing to change"),
        ("PATCH", "/todos/1", {"completed": 0}, 400, "true or false"),
        ("PATCH", "/todos/1", {"id": 2}, 400, "unknown field"),
        ("DELETE", "/todos/99", None, 404, "no todo"),
        ("DELETE", "/todos/-1", None, 404, "no todo"),
        ("GET", "/todos/0", None, 404, "no todo"),
        ("PATCH", "/todos/1", {"name": "x"}, 400, "unknown field"),
        ("PUT", "/todos/1", {"title": "x"}, 405, "method not allowed"),
        ("GET", "/todos/1/extra", None, 404, "not found"),
    ]
    for method, path, body, status, fragment in cases:
        async with http.request(method, url + path, json=body) as r:
            assert r.status == status, (method, path)
            assert r.content_type == "application/json", (method, path)
            assert fragment in (await r.json())["error"], (method, path)
    async with http.put(f"{url}/todos/1", json={}) as r:
        assert "PATCH" in r.headers["Allow"]


# -- client bundle ---------------------------------------------------------------------------------


def _pinned_client_version() -> str:
    lock = json.loads((REPO / "package.json").read_text())
    return str(lock["dependencies"]["socket.io-client"])


async def test_client_bundle_is_served_next_to_socketio(
    demo_server: TestServer, http: aiohttp.ClientSession
) -> None:
    assert find_client_bundle() is not None, "run scripts/setup (it copies the npm bundle)"
    url = base_url(demo_server)
    async with http.get(f"{url}/socket.io/socket.io.min.js") as r:
        assert r.status == 200
        assert r.content_type == "application/javascript"
        body = await r.text()
        assert f"Socket.IO v{_pinned_client_version()}" in body[:200]
        etag = r.headers["ETag"]
    async with http.get(f"{url}/socket.io/socket.io.min.js", headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    async with http.get(f"{url}/socket.io/socket.io.msgpack.min.js") as r:
        assert r.status == 200
    # The Socket.IO endpoint itself is untouched by the bundle's route.
    async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as r:
        assert r.status == 200
        assert (await r.text()).startswith("0{")


async def test_bundle_route_wins_when_added_before_a_catch_all() -> None:
    """The exact bundle path wins over a catch-all under /socket.io/, in either order.

    aiohttp (3.10+) resolves a URL by walking its path from the longest prefix to the shortest,
    so an exact route beats a dynamic one registered on a shorter prefix; registration order
    only decides between routes on the same canonical path (why add_client_routes still goes
    first).
    """

    async def catch_all(request: web.Request) -> web.Response:
        return web.Response(text="catch-all")

    for bundle_first in (True, False):
        app = web.Application()
        if bundle_first:
            add_client_routes(app)
        app.router.add_route("*", "/socket.io/{tail:.*}", catch_all)
        if not bundle_first:
            add_client_routes(app)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(server.make_url("/socket.io/socket.io.min.js")) as r,
            ):
                served_bundle = (await r.text()) != "catch-all"
        finally:
            await server.close()
        assert served_bundle, f"bundle_first={bundle_first}"


# -- Socket.IO: todo feed and chat -----------------------------------------------------------------


async def test_every_change_is_pushed(demo_server: TestServer, http: aiohttp.ClientSession) -> None:
    url = base_url(demo_server)
    async with peer(demo_server) as watcher:
        state = await watcher.call("sync")
        assert state["todos"] == list(TUTORIAL_TODOS)
        assert state["rooms"] == ["general", "random", "help"]
        async with http.post(f"{url}/todos", json={"title": "Pushed"}) as r:
            created = await r.json()
        assert await watcher.next("todo_added") == created
        async with http.patch(f"{url}/todos/{created['id']}", json={"completed": True}) as r:
            assert r.status == 200
        assert await watcher.next("todo_updated") == {**created, "completed": True}
        async with http.delete(f"{url}/todos/{created['id']}") as r:
            assert r.status == 204
        assert await watcher.next("todo_deleted") == {"id": created["id"]}
        # A rejected change pushes nothing.
        async with http.post(f"{url}/todos", json={"title": ""}) as r:
            assert r.status == 400
        async with http.post(f"{url}/todos", json={"title": "after"}) as r:
            assert r.status == 201
        assert (await watcher.next("todo_added"))["title"] == "after"


async def test_chat_rooms_presence_and_relay(demo_sio: InProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.demo")
    async with demo_sio.peer() as alice, demo_sio.peer() as bob, demo_sio.peer() as carol:
        alice_join = await alice.call("join", {"name": "alice", "room": "general"})
        assert alice_join["ok"] and alice_join["room"] == "general" and alice_join["history"] == []
        assert [u["name"] for u in (await alice.next("presence"))["users"]] == ["alice"]

        ack = await bob.call("join", {"name": "bob", "room": "general"})
        assert sorted(u["name"] for u in ack["users"]) == ["alice", "bob"]
        presence = await alice.next("presence")
        assert sorted(u["name"] for u in presence["users"]) == ["alice", "bob"]
        assert (await carol.call("join", {"name": "carol", "room": "random"}))["ok"]

        ack = await alice.call("message", {"text": "hello bob"})
        assert ack["ok"] is True
        for who in (alice, bob):
            message = await who.next("message")
            assert {k: message[k] for k in ("room", "name", "text")} == {
                "room": "general",
                "name": "alice",
                "text": "hello bob",
            }
            assert isinstance(message["ts"], int)
        # Public ids, never socket ids, identify people to each other.
        assert message["from"] == alice_join["you"]
        assert carol.received("message") == []

        # The tutorial's log lines: the socket id, then the message.
        assert any(r.getMessage().startswith("Socket ID: ") for r in caplog.records)
        assert any("hello bob" in r.getMessage() for r in caplog.records)

        # Whoever joins later gets the room's recent history.
        ack = await carol.call("join", {"name": "carol", "room": "general"})
        assert [m["text"] for m in ack["history"]] == ["hello bob"]


async def test_presence_follows_disconnects(demo_sio: InProcess) -> None:
    async with demo_sio.peer() as alice:
        await alice.call("join", {"name": "alice", "room": "help"})
        await alice.next("presence")
        async with demo_sio.peer() as bob:
            await bob.call("join", {"name": "bob", "room": "help"})
            assert len((await alice.next("presence"))["users"]) == 2
        assert [u["name"] for u in (await alice.next("presence"))["users"]] == ["alice"]


async def test_tutorial_style_message_and_validation(demo_sio: InProcess) -> None:
    async with demo_sio.peer() as p:
        # A plain string, as the tutorial's page sends it, from a client that never joined.
        ack = await p.call("message", "hi from the tutorial")
        assert ack["ok"] is True
        message = await p.next("message")
        assert message["room"] == "general"
        assert message["name"].startswith("guest-")
        assert message["text"] == "hi from the tutorial"

        bad_calls: list[tuple[str, Any, str]] = [
            ("join", {"name": "x", "room": "nowhere"}, "room must be one of"),
            ("join", {"name": "", "room": "general"}, "must not be empty"),
            ("join", {"name": "x" * 33, "room": "general"}, "at most 32"),
            ("join", "general", "one object"),
            ("join", {"name": "x", "room": "general", "admin": True}, "one object"),
            ("message", {"text": ""}, "must not be empty"),
            ("message", {"text": "x" * 501}, "at most 500"),
            ("message", {"text": "line\nbreak"}, "control characters"),
            ("message", {"text": 5}, "must be a string"),
            ("message", ["a", "b"], "string or"),
            ("message", {"text": "ok", "room": "../etc"}, "room must be one of"),
        ]
        for event, data, fragment in bad_calls:
            ack = await p.call(event, data)
            assert ack["ok"] is False, (event, data)
            assert fragment in ack["error"], (event, data, ack)

        # The rate limit: a burst beyond it is refused, politely.
        results = [await p.call("message", f"spam {i}") for i in range(15)]
        assert any(not r["ok"] and "slow down" in r["error"] for r in results)
