"""``sio.manager``: python-socketio's ``AsyncManager`` API, and subclasses whose overrides the server
calls where python-socketio calls them (python-socketio's AsyncClient as the peer)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio  # python-socketio, as the client peer only

import aiosio

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0


async def _client(url: str, **kwargs: Any) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"], wait_timeout=WAIT, **kwargs)
    return client


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_manager_answers_python_socketio_questions(serve: Any) -> None:
    """get_participants, get_rooms, is_connected, is_pre_connected, sid/eio_sid lookups,
    get_namespaces, is_sid_room and the ``rooms`` mapping, on live clients."""
    sio = aiosio.AsyncServer(namespaces="*")
    sids: dict[str, str] = {}
    during_connect: list[tuple[bool, bool]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        during_connect.append((sio.manager.is_connected(sid, "/"), sio.manager.is_pre_connected(sid, "/")))
        sids[auth["name"]] = sid
        await sio.enter_room(sid, "everyone")
        if auth["name"] != "c":
            await sio.enter_room(sid, "ab")

    handle = await serve(sio)
    clients = [await _client(handle.url, auth={"name": n}) for n in "abc"]
    await _client(handle.url, namespaces=["/chat"])
    m = sio.manager
    assert during_connect == [(False, True)] * 3
    a, b, c = sids["a"], sids["b"], sids["c"]
    eio = {n: m.eio_sid_from_sid(s, "/") for n, s in sids.items()}
    assert all(eio.values()) and len(set(eio.values())) == 3
    assert all(m.sid_from_eio_sid(eio[n], "/") == sids[n] for n in "abc")
    assert m.sid_from_eio_sid(eio["a"], "/chat") is None
    assert m.eio_sid_from_sid(a, "/chat") is None
    assert sorted(m.get_participants("/", "ab")) == sorted([(a, eio["a"]), (b, eio["b"])])
    assert sorted(m.get_participants("/", ["ab", "everyone"])) == sorted((s, eio[n]) for n, s in sids.items())
    assert sorted(m.get_participants("/", None)) == sorted((s, eio[n]) for n, s in sids.items())
    assert list(m.get_participants("/", c)) == [(c, eio["c"])]
    assert list(m.get_participants("/", "nobody")) == []
    assert m.get_rooms(a, "/") == [a, "ab", "everyone"] == sio.rooms(a)
    assert m.is_connected(a, "/") and not m.is_pre_connected(a, "/")
    assert not m.is_connected(a, "/chat") and not m.is_connected("nope", "/")
    assert sorted(m.get_namespaces()) == ["/", "/chat"]
    assert m.is_sid_room("/", a) and not m.is_sid_room("/", "ab")
    rooms = m.rooms
    assert set(rooms) == {"/", "/chat"}
    assert dict(rooms["/"]["ab"]) == {a: eio["a"], b: eio["b"]}
    assert dict(rooms["/"][a]) == {a: eio["a"]}
    assert len(rooms["/"][None]) == 3
    assert set(rooms["/"]) == {None, a, b, c, "ab", "everyone"}
    assert "nobody" not in rooms["/"]
    await clients[0].disconnect()
    await _until(lambda: not m.is_connected(a, "/"))
    assert dict(rooms["/"]["ab"]) == {b: eio["b"]}


async def test_manager_room_methods_act_on_delivery(serve: Any) -> None:
    """``await sio.manager.enter_room/leave_room/close_room`` change who receives room emits."""
    sio = aiosio.AsyncServer()
    joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sio.on("connect", lambda sid, environ: joined.set_result(sid))
    handle = await serve(sio)
    client = await _client(handle.url)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda data: got.put_nowait(data))
    sid = await asyncio.wait_for(joined, WAIT)
    await sio.manager.enter_room(sid, "/", "r")
    await sio.emit("news", 1, to="r")
    assert await asyncio.wait_for(got.get(), WAIT) == 1
    await sio.manager.leave_room(sid, "/", "r")
    await sio.emit("news", 2, to="r")
    await sio.manager.enter_room(sid, "/", "s")
    await sio.manager.close_room("s", "/")
    await sio.emit("news", 3, to="s")
    await sio.emit("news", 4, to=sid)
    assert await asyncio.wait_for(got.get(), WAIT) == 4  # 2 and 3 never came
    await client.disconnect()


class Recording(aiosio.AsyncManager):
    """A subclass overriding every hook the server calls; each records and defers to super()."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []
        self.allow_disconnect = True

    def initialize(self) -> None:
        self.calls.append(("initialize",))

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None, **kwargs: Any) -> None:
        self.calls.append(("emit", event, namespace, room, kwargs.get("volatile", False)))
        await super().emit(event, data, namespace, room=room, **kwargs)

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        self.calls.append(("enter_room", sid, namespace, room))
        await super().enter_room(sid, namespace, room, eio_sid)

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        self.calls.append(("leave_room", sid, namespace, room))
        await super().leave_room(sid, namespace, room)

    async def close_room(self, room: str, namespace: str) -> None:
        self.calls.append(("close_room", room, namespace))
        await super().close_room(room, namespace)

    async def connect(self, sid: str, namespace: str) -> str:
        self.calls.append(("connect", sid, namespace, self.is_connected(sid, namespace)))
        return await super().connect(sid, namespace)

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        self.calls.append(("disconnect", sid, namespace))
        await super().disconnect(sid, namespace, **kwargs)

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        self.calls.append(("can_disconnect", sid, namespace))
        return self.allow_disconnect and await super().can_disconnect(sid, namespace)

    async def trigger_callback(self, sid: str, id: int, data: list[Any]) -> None:
        self.calls.append(("trigger_callback", sid, data))
        await super().trigger_callback(sid, id, data)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


async def test_subclass_overrides_are_called_and_super_does_the_work(serve: Any) -> None:
    """Every overridden hook runs where python-socketio runs it, and its super() call still
    delivers, joins rooms, resolves acks and disconnects."""
    manager = Recording()
    sio = aiosio.AsyncServer(client_manager=manager)
    assert sio.manager is manager and manager.server is sio
    assert manager.overridden() == frozenset(aiosio.server.manager.HOOKS) - {"pre_disconnect"}
    joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sio.on("connect", lambda sid, environ: joined.set_result(sid))
    handle = await serve(sio)
    assert manager.calls == []
    client = await _client(handle.url)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda data: got.put_nowait(data))
    client.on("ask", lambda data: data * 2)
    sid = await asyncio.wait_for(joined, WAIT)
    await _until(lambda: "connect" in manager.names())
    assert manager.calls[:2] == [("initialize",), ("connect", sid, "/", True)]

    await sio.enter_room(sid, "r")
    await sio.emit("news", "to-room", room="r")
    assert await asyncio.wait_for(got.get(), WAIT) == "to-room"
    await sio.emit("news", "volatile", to=sid, volatile=True)
    assert await asyncio.wait_for(got.get(), WAIT) == "volatile"
    assert await sio.call("ask", 21, to=sid, timeout=WAIT) == 42  # call() goes through emit too
    await sio.leave_room(sid, "r")
    await sio.close_room("r")
    assert manager.calls[2:] == [
        ("enter_room", sid, "/", "r"),
        ("emit", "news", "/", "r", False),
        ("emit", "news", "/", sid, True),
        ("emit", "ask", "/", sid, False),
        ("trigger_callback", sid, [42]),
        ("leave_room", sid, "/", "r"),
        ("close_room", "r", "/"),
    ]
    del manager.calls[:]

    manager.allow_disconnect = False
    await sio.disconnect(sid)
    assert manager.calls == [("can_disconnect", sid, "/")]
    assert client.connected and manager.is_connected(sid, "/")
    manager.allow_disconnect = True
    await sio.disconnect(sid)
    await _until(lambda: "disconnect" in manager.names())
    assert manager.calls[1:] == [("can_disconnect", sid, "/"), ("disconnect", sid, "/")]
    await _until(lambda: not client.connected)
    assert not manager.is_connected(sid, "/")


async def test_refused_connect_tells_the_manager_disconnect_only(serve: Any) -> None:
    """As in python-socketio: a refused client gets ``manager.disconnect`` and no ``connect``."""
    manager = Recording()
    sio = aiosio.AsyncServer(client_manager=manager)
    sio.on("connect", lambda sid, environ: False)
    handle = await serve(sio)
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(handle.url, transports=["websocket"], wait_timeout=WAIT)
    await _until(lambda: "disconnect" in manager.names())
    assert manager.names() == ["initialize", "disconnect"]


def test_a_plain_manager_adds_nothing_to_emit() -> None:
    """Without overrides no hook is armed: ``emit`` stays the class's direct method."""
    sio = aiosio.AsyncServer()
    assert isinstance(sio.manager, aiosio.AsyncManager)
    assert sio.manager.overridden() == frozenset()
    assert "emit" not in vars(sio)
    hooked = aiosio.AsyncServer(client_manager=Recording())
    assert "emit" in vars(hooked)


def test_client_manager_must_be_an_async_manager() -> None:
    """Anything else is refused with a clear error (python-socketio's managers can't plug in)."""
    with pytest.raises(TypeError, match="AsyncManager"):
        aiosio.AsyncServer(client_manager=object())  # type: ignore[arg-type]


async def test_server_subclass_emit_and_manager_emit_both_run(serve: Any) -> None:
    """An AsyncServer subclass overriding emit, with a manager overriding emit: both run once per
    emit, and the event is delivered."""

    class Server(aiosio.AsyncServer):
        emitted: list[str] = []

        async def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
            self.emitted.append(event)
            await super().emit(event, *args, **kwargs)

    manager = Recording()
    sio = Server(client_manager=manager)
    handle = await serve(sio)
    client = await _client(handle.url)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda data: got.put_nowait(data))
    await sio.emit("news", "x")
    assert await asyncio.wait_for(got.get(), WAIT) == "x"
    assert Server.emitted == ["news"]
    assert [c for c in manager.calls if c[0] == "emit"] == [("emit", "news", "/", None, False)]
    await client.disconnect()


async def test_a_timed_out_call_through_an_overridden_emit_leaves_no_ack_behind(serve: Any) -> None:
    """call() with a manager overriding emit: a client that never answers times the call out,
    and the ack the socket waited for is forgotten then, not kept until the client leaves."""
    manager = Recording()
    sio = aiosio.AsyncServer(client_manager=manager)
    joined: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sio.on("connect", lambda sid, environ: joined.set_result(sid))
    handle = await serve(sio)
    client = await _client(handle.url)

    async def silent(_data: Any) -> None:
        await asyncio.sleep(WAIT)  # answers too late

    client.on("silent", silent)
    sid = await asyncio.wait_for(joined, WAIT)
    sock = sio._sockets[sid]
    for _ in range(3):
        with pytest.raises(aiosio.exceptions.TimeoutError):
            await sio.call("silent", 1, to=sid, timeout=0.2)
    assert not sock.acks, "timed-out calls left their ack callbacks on the socket"
    await client.disconnect()


def test_the_library_s_own_managers_are_not_taken_for_user_hooks() -> None:
    """AsyncRedisManager defines emit, room methods and disconnect with python-socketio's
    signatures: that is not a user override (every emit would go the slow way through the
    manager); a user's subclass of it overriding emit is one."""
    manager = aiosio.AsyncRedisManager("redis://127.0.0.1:1/0")
    assert manager.overridden() == frozenset()

    class Mine(aiosio.AsyncRedisManager):
        async def emit(self, *args: Any, **kwargs: Any) -> None:
            await super().emit(*args, **kwargs)

    assert Mine("redis://127.0.0.1:1/0").overridden() == frozenset({"emit"})
