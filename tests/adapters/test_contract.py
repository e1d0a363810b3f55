"""The adapter contract: every operation of :class:`aiosio.adapters.base.Adapter`, through a real
server and real python-socketio clients, for every adapter of ``conftest.ADAPTERS``.

Rooms both ways; broadcasts by rooms, exclusions and the volatile flag; room changes, disconnects
and socket descriptions by selector; server count and server-side emit; broadcast with acks (every
answer, some time out, a recipient leaves, nobody selected); the packet encoded at most once per
process and not at all without a local recipient; the lifecycle; the one-sid shortcut.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aiosio
from aiosio import exceptions
from aiosio.adapters import EventPacket, Selector
from aiosio.adapters.acks import gather

pytestmark = pytest.mark.timeout(60)

NS = "/"


async def four(make: Any) -> tuple[Any, dict[str, str]]:
    """Peers a, b, c, d; rooms r = {a, b} and s = {b, c}."""
    c: Any = await make()
    for name in "abcd":
        await c.connect(name)
    sid = {n: p.sid for n, p in c.peers.items()}
    for name in "ab":
        await c.sio.enter_room(sid[name], "r")
    for name in "bc":
        await c.sio.enter_room(sid[name], "s")
    return c, sid


async def until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.01)


def counting(encoder: Any) -> tuple[Any, list[int | None]]:
    calls: list[int | None] = []

    def encode(namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None) -> Any:
        calls.append(ack_id)
        return encoder(namespace, event, args, ack_id)

    return encode, calls


# -- rooms ---------------------------------------------------------------------------------------


async def test_rooms_are_known_both_ways_and_cleaned_up(cluster: Any) -> None:
    """room -> sids and sid -> rooms agree after joins, a leave, a close_room and a disconnect."""
    c, sid = await four(cluster)
    a = c.adapter
    assert a.rooms(NS, sid["b"]) == [sid["b"], "r", "s"]
    assert sorted(a.participants(NS, "r")) == sorted([sid["a"], sid["b"]])
    assert sorted(a.room_names(NS)) == ["r", "s"]
    assert a.is_sid_room(NS, sid["a"]) and not a.is_sid_room(NS, "r")
    await c.sio.leave_room(sid["b"], "r")
    assert a.rooms(NS, sid["b"]) == [sid["b"], "s"] and list(a.participants(NS, "r")) == [sid["a"]]
    await c.sio.close_room("s")
    assert "s" not in a.room_names(NS) and a.rooms(NS, sid["c"]) == [sid["c"]]
    await c.peers["a"].client.disconnect()
    async with asyncio.timeout(5):
        while a.is_sid_room(NS, sid["a"]):
            await asyncio.sleep(0.01)
    assert "r" not in a.room_names(NS), "a room whose last member left stays behind"
    assert sid["a"] not in a.participants(NS, None)


# -- broadcast -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "skip", "expected"),
    [
        (None, None, "abcd"),
        ("r", None, "ab"),
        (["r", "s"], None, "abc"),
        (["r", "s"], "s", "a"),
        (None, ["r", "$d"], "c"),
        ("r", "$b", "a"),  # skip by sid
        ("$d", None, "d"),  # a sid is a room
        (["$d", "s"], None, "bcd"),
        ([], None, ""),  # an empty list selects nobody (python-socketio's meaning)
        ("nobody", None, ""),
    ],
)
async def test_broadcast_selects_by_rooms_and_exclusions(
    cluster: Any, to: Any, skip: Any, expected: str
) -> None:
    """Each selected peer gets the event once; nobody else gets it."""
    c, sid = await four(cluster)

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return sid[value[1:]] if isinstance(value, str) and value.startswith("$") else value

    await c.sio.emit("news", {"n": 1}, to=resolve(to), skip_sid=resolve(skip))
    await c.settle()
    assert c.received("news") == set(expected)
    for name in expected:
        assert c.peers[name].events() == [("news", {"n": 1})]


async def test_volatile_broadcast_is_dropped_where_it_cannot_go_now(cluster: Any) -> None:
    """A socket whose connect handler still runs holds normal packets and drops volatile ones:
    the adapter must use the volatile delivery for a volatile selector, and only then."""
    c: Any = await cluster()
    release = asyncio.Event()

    @c.sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        if auth["name"] == "slow":
            c.sio.start_background_task(broadcast_then_release)
            await release.wait()

    async def broadcast_then_release() -> None:
        await asyncio.sleep(0.2)
        await c.sio.emit("volatile", 1, volatile=True)
        await c.sio.emit("normal", 2)
        release.set()

    await c.connect("fast")
    await c.connect("slow")
    await c.settle()
    assert c.peers["slow"].events() == [("normal", 2)]
    assert c.peers["fast"].events() == [("volatile", 1), ("normal", 2)]


async def test_volatile_emit_with_ack_waits_only_for_those_it_reached(cluster: Any) -> None:
    """A recipient whose volatile packet was dropped is not counted: the acks of the others end
    the wait at once, not the timeout."""
    c: Any = await cluster()
    release = asyncio.Event()
    answers: list[Any] = []

    @c.sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        if auth["name"] == "slow":
            c.sio.start_background_task(ask_then_release)
            await release.wait()

    async def ask_then_release() -> None:
        await asyncio.sleep(0.2)
        started = time.monotonic()
        answers.append(await c.sio.emit_with_ack("ask", "q", volatile=True, timeout=10))
        answers.append(time.monotonic() - started)
        release.set()

    await c.connect("fast")
    await c.connect("slow")
    await c.settle()
    assert answers and answers[0] == ["fast"] and answers[1] < 5


# -- room changes, disconnects and descriptions by selector --------------------------------------


async def test_add_and_del_sockets_by_selector(cluster: Any) -> None:
    """Node's socketsJoin / socketsLeave: the selected sockets join (leave) every listed room."""
    c, sid = await four(cluster)
    a = c.adapter
    await a.add_sockets(NS, Selector(("r",), exclude=(sid["b"],)), ["x", "y"])
    assert sorted(a.participants(NS, "x")) == [sid["a"]] and sorted(a.participants(NS, "y")) == [sid["a"]]
    await a.add_sockets(NS, Selector(), ["all"])
    assert sorted(a.participants(NS, "all")) == sorted(sid.values())
    await a.del_sockets(NS, Selector(("s",)), ["all", "r"])
    assert sorted(a.participants(NS, "all")) == sorted([sid["a"], sid["d"]])
    assert list(a.participants(NS, "r")) == [sid["a"]]
    await c.sio.emit("news", 1, to="all")
    await c.settle()
    assert c.received("news") == {"a", "d"}


@pytest.mark.allow_server_errors("packet queue is empty")  # python-socketio's client, on the close
async def test_disconnect_sockets_by_selector(cluster: Any) -> None:
    """The selected sockets are disconnected (they are told), the others stay; ``close`` also ends
    the connection (its other namespaces go too)."""
    c = await cluster(namespaces=["/", "/other"])
    for name in "ab":
        await c.connect(name)
    both = await c.connect("c", namespaces=["/", "/other"])
    keep = await c.connect("d", namespaces=["/", "/other"])
    sid = {n: p.sid for n, p in c.peers.items()}
    for name in "ab":
        await c.sio.enter_room(sid[name], "r")
    left: dict[str, str] = {}

    @c.sio.event
    async def disconnect(s: str, reason: str) -> None:
        left[s] = reason

    await c.adapter.disconnect_sockets(NS, Selector(("r",), exclude=(sid["b"],)))
    await until(lambda: not c.peers["a"].client.connected)
    await until(lambda: sid["a"] in left)
    assert left == {sid["a"]: aiosio_reason()}
    await c.adapter.disconnect_sockets(NS, Selector((sid["d"],)))  # one namespace only
    await c.adapter.disconnect_sockets(NS, Selector((sid["c"],)), close=True)
    await until(lambda: both.client.eio.state != "connected")
    await c.settle()
    assert {n for n, p in c.peers.items() if p.client.connected} == {"b", "d"}
    assert keep.client.namespaces == {"/other": keep.client.get_sid("/other")}
    assert both.client.eio.state != "connected"


def aiosio_reason() -> str:
    from aiosio import CloseReason

    return CloseReason.SERVER_DISCONNECT


async def test_fetch_sockets_describes_the_selected_sockets(cluster: Any) -> None:
    """sid, namespace, every room (its sid room first), Engine.IO sid, user session."""
    c, sid = await four(cluster)
    await c.sio.save_session(sid["b"], {"name": "b"})
    infos = await c.adapter.fetch_sockets(NS, Selector(("s",), exclude=(sid["c"],)))
    assert [i.sid for i in infos] == [sid["b"]]
    info = infos[0]
    assert info.namespace == NS and info.rooms == (sid["b"], "r", "s") and info.data == {"name": "b"}
    assert info.eio_sid == c.sio.manager.eio_sid_from_sid(sid["b"], NS)
    everyone = await c.adapter.fetch_sockets(NS, Selector())
    assert sorted(i.sid for i in everyone) == sorted(sid.values())
    assert await c.adapter.fetch_sockets(NS, Selector(())) == []


async def test_server_count_and_server_side_emit_alone(cluster: Any) -> None:
    """One server: it counts itself, and a server-side emit reaches no other server (no answer)."""
    c, _ = await four(cluster)
    assert await c.adapter.server_count() == 1
    assert await c.adapter.server_side_emit(NS, "hello", (1,), timeout=0.5) == []
    await c.settle()
    assert c.received("hello") == set()  # never delivered to clients


# -- broadcast with acks -------------------------------------------------------------------------


async def test_emit_with_ack_returns_every_answer(cluster: Any) -> None:
    c, sid = await four(cluster)
    assert sorted(await c.sio.emit_with_ack("ask", "q", to=["r", "s"], timeout=5)) == ["a", "b", "c"]
    assert sorted(await c.sio.emit_with_ack("ask", "q", skip_sid=sid["a"], timeout=5)) == ["b", "c", "d"]
    assert await c.sio.emit_with_ack("ask", "q", to="nobody", timeout=5) == []
    handlers = aiosio.AsyncNamespace("/")
    c.sio.register_namespace(handlers)
    assert sorted(await handlers.emit_with_ack("ask", "q", to="r", timeout=5)) == ["a", "b"]
    await c.settle()
    assert [e for e, _ in c.peers["b"].events()] == ["ask"] * 3  # once per emit


async def test_emit_with_ack_times_out_with_what_arrived(cluster: Any) -> None:
    c: Any = await cluster()

    async def never(_data: Any) -> Any:
        await asyncio.sleep(30)

    await c.connect("a")
    await c.connect("b")
    await c.connect("late", answer=never)
    started = time.monotonic()
    with pytest.raises(exceptions.AcksMissingError) as info:
        await c.sio.emit_with_ack("ask", None, timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 3
    err = info.value
    assert isinstance(err, exceptions.TimeoutError)
    assert sorted(err.responses) == ["a", "b"] and err.expected == 3 and err.disconnected == 0
    late = c.peers["late"].sid
    assert not c.sio._sockets[late].acks, "the adapter still waits for the late ack after the timeout"


async def test_emit_with_ack_ends_early_when_a_recipient_leaves(cluster: Any) -> None:
    """A recipient that is disconnected before answering will never answer: once the others have,
    the call ends (long before its timeout) and says so."""
    c: Any = await cluster()
    asked = asyncio.Event()

    async def stall(_data: Any) -> Any:
        asked.set()
        await asyncio.sleep(30)

    await c.connect("a")
    gone = await c.connect("gone", answer=stall)

    async def drop() -> None:
        await asked.wait()
        await c.sio.disconnect(gone.sid)

    started = time.monotonic()
    task = asyncio.ensure_future(drop())
    with pytest.raises(exceptions.AcksMissingError) as info:
        await c.sio.emit_with_ack("ask", None, timeout=20)
    await task
    assert time.monotonic() - started < 5
    assert info.value.responses == ["a"] and info.value.expected == 2 and info.value.disconnected == 1


async def test_emit_with_ack_skips_a_socket_whose_disconnect_is_under_way(cluster: Any) -> None:
    """A socket whose disconnect handler is still running is not sent the packet and not waited
    for: the call returns the others' answers, with nothing missing."""
    c: Any = await cluster()
    leaving = asyncio.Event()
    release = asyncio.Event()

    @c.sio.event
    async def disconnect(_sid: str, _reason: str) -> None:
        leaving.set()
        await release.wait()

    await c.connect("a")
    await c.connect("b")
    gone = await c.connect("gone")
    await gone.client.disconnect()
    await asyncio.wait_for(leaving.wait(), 5)
    try:
        answers = await c.sio.emit_with_ack("ask", None, timeout=3)
    finally:
        release.set()
    assert sorted(answers) == ["a", "b"]
    assert "ask" not in [e for e, _ in gone.got]


async def test_emit_with_ack_answers_unpacked_like_call(cluster: Any) -> None:
    c: Any = await cluster()

    async def several(_data: Any) -> Any:
        return (1, 2)

    async def none(_data: Any) -> Any:
        return None

    await c.connect("two", answer=several)
    await c.connect("none", answer=none)
    got = await c.sio.emit_with_ack("ask", None, timeout=5)
    assert sorted(got, key=repr) == sorted([(1, 2), None], key=repr)


async def test_emit_callback_to_a_room_is_called_per_recipient(cluster: Any) -> None:
    """``emit(callback=)`` to a room goes through the adapter's ack broadcast too."""
    c, _ = await four(cluster)
    answers: list[Any] = []
    await c.sio.emit("ask", None, to="r", callback=answers.append)
    async with asyncio.timeout(5):
        while len(answers) < 2:
            await asyncio.sleep(0.01)
    assert sorted(answers) == ["a", "b"]


# -- encoding ------------------------------------------------------------------------------------


async def test_a_broadcast_is_encoded_once_and_only_with_a_local_recipient(cluster: Any) -> None:
    c, _ = await four(cluster)
    encode, calls = counting(c.sio._encode)
    await c.adapter.broadcast(EventPacket(NS, "news", (1,), encode), Selector(("r", "s")))
    await c.settle()
    assert calls == [None] and c.received("news") == {"a", "b", "c"}
    calls.clear()
    await c.adapter.broadcast(EventPacket(NS, "news", (1,), encode), Selector(("nobody",)))
    await c.adapter.broadcast(EventPacket(NS, "news", (1,), encode), Selector(("r",), exclude=("r",)))
    await c.adapter.broadcast(EventPacket("/elsewhere", "news", (1,), encode), Selector())
    assert calls == [], "encoded for nobody"


async def test_an_ack_broadcast_is_encoded_once_with_one_id(cluster: Any) -> None:
    """One encoding for every recipient, with an id free on each: a call still waiting on one of
    them is neither answered by, nor answers, the broadcast."""
    c: Any = await cluster()

    async def slowly(_data: Any) -> Any:
        await asyncio.sleep(0.5)
        return "slow"

    for name in "ab":
        await c.connect(name)
    slow = await c.connect("slow", answer=slowly)
    pending = asyncio.ensure_future(c.sio.call("ask", None, to=slow.sid, timeout=4))
    await slow.until("ask")
    encode, calls = counting(c.sio._encode)
    packet = EventPacket(NS, "ask", ("q",), encode, ack=True)
    answers = await gather(c.adapter, packet, Selector(None, timeout=4))
    assert sorted(answers) == ["a", "b", "slow"]
    assert len(calls) == 1 and calls[0] is not None
    assert await pending == "slow"
    calls.clear()
    assert (
        await gather(c.adapter, EventPacket(NS, "ask", (), encode, ack=True), Selector(("x",), timeout=5))
        == []
    )
    assert calls == []


# -- lifecycle and the one-sid shortcut ----------------------------------------------------------


async def test_lifecycle_init_before_serving_and_close_at_shutdown(cluster: Any) -> None:
    c: Any = await cluster()
    assert c.adapter.calls == ["init"]
    await c.connect("a")
    assert c.adapter.calls.count("init") == 1
    await c.peers["a"].client.disconnect()
    await c.sio.shutdown()
    assert c.adapter.calls[-1] == "close" and c.adapter.calls.count("close") == 1


async def test_one_local_sid_skips_the_adapter_and_other_sids_reach_it(cluster: Any) -> None:
    """emit(to=sid) of this process is written directly; a sid it does not hold goes to the adapter
    (so a cluster adapter can find it); call() to such a sid fails as not connected."""
    c, sid = await four(cluster)
    c.adapter.calls.clear()
    await c.sio.emit("direct", 1, to=sid["a"])
    assert c.adapter.calls == []
    await c.sio.emit("elsewhere", 1, to="not-a-local-sid")
    assert c.adapter.calls == ["broadcast"]
    with pytest.raises(exceptions.DisconnectedError):
        await c.sio.call("ask", None, to="not-a-local-sid", timeout=1)
    await c.settle()
    assert c.received("direct") == {"a"} and c.received("elsewhere") == set()


async def test_sid_selectors_never_select_a_room(cluster: Any) -> None:
    """``disconnect(sid)``, ``enter_room(sid, …)``, ``leave_room(sid, …)`` and ``call(to=sid)`` name
    one socket. Given a name that is no local sid (a room, say) they go to the adapter with
    ``sids=True``, which selects only sockets with that id: nobody here, never the room's members
    (python-socketio does nothing either)."""
    c = await cluster()
    for name in "ab":
        await c.connect(name)
    sid = {n: p.sid for n, p in c.peers.items()}
    for name in "ab":
        await c.sio.enter_room(sid[name], "lobby")
    assert {m.sid for m in c.adapter.local(NS, Selector(("lobby",), sids=True))} == set()
    assert {m.sid for m in c.adapter.local(NS, Selector((sid["a"], "lobby"), sids=True))} == {sid["a"]}
    picked = c.adapter.local(NS, Selector((sid["a"], sid["b"]), exclude=(sid["b"],), sids=True))
    assert [m.sid for m in picked] == [sid["a"]]
    await c.sio.disconnect("lobby")
    await c.sio.enter_room("lobby", "elsewhere")
    await c.sio.leave_room("lobby", "lobby")
    with pytest.raises(aiosio.exceptions.DisconnectedError):
        await c.sio.call("ask", to="lobby", timeout=2)
    await c.settle()
    assert {n for n, p in c.peers.items() if p.client.connected} == {"a", "b"}
    assert sorted(c.sio.rooms(sid["a"])) == sorted([sid["a"], "lobby"])
    assert not c.received("ask")


# -- the public cluster operations (AsyncServer), through the adapter ------------------------------


async def test_fetch_sockets_returns_remote_sockets_that_act(cluster: Any) -> None:
    """sio.fetch_sockets: RemoteSocket snapshots (sid, rooms, data, Node's handshake) whose emit,
    join, leave and disconnect act on the socket through the adapter."""
    c, sid = await four(cluster)
    await c.sio.save_session(sid["b"], {"name": "b"})
    found = await c.sio.fetch_sockets(to="s", skip_sid=sid["c"])
    assert found.complete and found.missing == 0
    assert [s.sid for s in found] == [sid["b"]]
    b = found[0]
    assert b.rooms == {sid["b"], "r", "s"} and b.data == {"name": "b"} and b.local
    hs = b.handshake
    assert hs["auth"] == {"name": "b"} and hs["address"] == "127.0.0.1" and hs["secure"] is False
    assert hs["query"]["EIO"] == "4" and hs["query"]["transport"] == "websocket"
    assert hs["url"].startswith("/socket.io/?") and isinstance(hs["issued"], int)
    assert hs["time"].endswith("GMT+0000 (Coordinated Universal Time)")
    assert "host" in hs["headers"] and hs["xdomain"] is False
    await b.join(["x", "y"])
    await b.leave("r")
    assert c.sio.rooms(sid["b"]) == [sid["b"], "s", "x", "y"]
    await b.emit("direct", (1, 2))
    await c.settle()
    assert c.received("direct") == {"b"}
    await b.disconnect()
    await until(lambda: not c.peers["b"].client.connected)
    assert [s.sid for s in await c.sio.fetch_sockets(to="s")] == [sid["c"]]


async def test_sockets_join_leave_and_disconnect_sockets(cluster: Any) -> None:
    c, sid = await four(cluster)
    await c.sio.sockets_join("t", to="r", skip_sid=sid["b"])
    await c.sio.sockets_join(["u", "v"], to=sid["d"])
    assert c.sio.rooms(sid["a"]) == [sid["a"], "r", "t"]
    assert c.sio.rooms(sid["d"]) == [sid["d"], "u", "v"]
    await c.sio.sockets_leave(["u"], to="v")
    assert c.sio.rooms(sid["d"]) == [sid["d"], "v"]
    await c.sio.disconnect_sockets(to="v")
    await until(lambda: not c.peers["d"].client.connected)
    assert {n for n, p in c.peers.items() if p.client.connected} == {"a", "b", "c"}


async def test_server_side_events_alone(cluster: Any) -> None:
    """One server: it counts itself; its own server-side emits reach no handler (they are for the
    other servers) and no client; a server-side call gets no answer and nothing is missing."""
    c, _ = await four(cluster)
    heard: list[Any] = []
    c.sio.on_server_event("hello", lambda *args: heard.append(args) or "answer")
    assert await c.sio.server_count() == 1
    await c.sio.server_side_emit("hello", 1, 2)
    answers = await c.sio.server_side_call("hello", 3, timeout=0.5)
    assert answers == [] and answers.complete
    await c.settle()
    assert heard == [] and c.received("hello") == set()
