"""The adapter contract across nodes: two and three aiosio servers in this process, each on its own
``AsyncRedisManager`` on one redis-server, with python-socketio clients spread over them, for every
Redis mode of ``conftest.ADAPTERS``.

Every operation of the single-node contract (tests/adapters/test_contract.py) acts on the sockets
of every node, wherever it is called: broadcasts (rooms, exclusions, volatile) reach each selected
client exactly once; a sid of another node is reached by ``emit``/``call``/``enter_room``/
``leave_room``/``disconnect`` (and a name that is no sid selects nobody, as on one node); rooms
change and sockets are disconnected and described by selector; server-side events reach every other
server's handler (never the sender's); acks are gathered from every node; servers are counted, a
server that shuts down stops being counted, and one that never answers is reported ``missing``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from typing import Any

import pytest
from contract_support import ADAPTERS, Cluster, Fleet, until_count

import aiosio
from aiosio import CloseReason, exceptions

REDIS_MODES = [name for name, kind in ADAPTERS.items() if kind.redis]

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.parametrize("adapter_factory", REDIS_MODES, indirect=True),
]

NS = "/"

#: Peers a and c on node 0, b and d on node 1; rooms r = {a, b} and s = {b, c}: every room spans
#: both nodes.
LAYOUT = {"a": 0, "b": 1, "c": 0, "d": 1}


async def spread(make: Any, count: int = 2) -> tuple[Fleet, dict[str, str]]:
    """A fleet of ``count`` nodes with :data:`LAYOUT`'s peers and rooms (joined on their own node)."""
    f: Fleet = await make(count)
    for name, node in LAYOUT.items():
        await f.nodes[node].connect(name)
    sid = {n: p.sid for n, p in f.peers.items()}
    for room, names in (("r", "ab"), ("s", "bc")):
        for name in names:
            await f.nodes[LAYOUT[name]].sio.enter_room(sid[name], room)
    await f.rooms_ready()
    return f, sid


async def until(predicate: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def connected(f: Fleet) -> set[str]:
    return {n for n, p in f.peers.items() if p.client.connected}


# -- broadcast -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "skip", "expected"),
    [
        (None, None, "abcd"),
        ("r", None, "ab"),
        (["r", "s"], None, "abc"),
        (["r", "s"], "s", "a"),
        (None, ["r", "$d"], "c"),
        ("r", "$b", "a"),  # skip a sid of the other node
        ("$d", None, "d"),  # a sid of the other node is a room
        (["$d", "s"], None, "bcd"),
        ([], None, ""),
        ("nobody", None, ""),
    ],
)
async def test_broadcast_reaches_each_selected_client_of_every_node_once(
    fleet: Any, to: Any, skip: Any, expected: str
) -> None:
    """From either node: each selected peer (of either node) gets the event exactly once; nobody
    else gets it."""
    f, sid = await spread(fleet)

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return sid[value[1:]] if isinstance(value, str) and value.startswith("$") else value

    for sender, node in enumerate(f.nodes):
        await node.sio.emit("news", {"from": sender}, to=resolve(to), skip_sid=resolve(skip))
        await f.settle(via=node)
        assert f.received("news") == set(expected), f"sent from node {sender}"
        for name in expected:
            assert f.peers[name].events() == [("news", {"from": sender})], f"{name}, from node {sender}"
        for peer in f.peers.values():
            peer.got.clear()


async def test_a_broadcast_reaches_every_client_of_three_nodes_once(fleet: Any) -> None:
    f: Fleet = await fleet(3)
    for i, name in enumerate("abcdef"):
        await f.nodes[i % 3].connect(name)
    for sender, node in enumerate(f.nodes):
        await node.sio.emit("news", sender, skip_sid=f.peers["a"].sid)
    for node in f.nodes:
        await f.settle(via=node)
    assert f.received("news") == set("bcdef")
    for name in "bcdef":
        assert sorted(d for _e, d in f.peers[name].events()) == [0, 1, 2], name


async def test_room_broadcasts_reach_their_members_whatever_shard_their_channel_is_on(
    fleet: Any, adapter_factory: Any
) -> None:
    """Twelve rooms with members on node 1, each broadcast to from node 0: each member gets its
    rooms' events once. On a Redis Cluster their channels are spread over the masters (checked)."""
    f: Fleet = await fleet(2)
    rooms = [f"room-{i}" for i in range(12)]
    for i in range(6):
        peer = await f.nodes[1].connect(f"p{i}")
        for room in (rooms[i], rooms[i + 6]):
            await f.nodes[1].sio.enter_room(peer.sid, room)
    await f.rooms_ready()
    if adapter_factory.kind.redis == "cluster" and "sharded" in adapter_factory.name:  # room channels
        holders = set()
        for server in adapter_factory.servers:
            client = server.client()
            try:
                pattern = f"{adapter_factory.channel}#/#room-*"
                if client.execute_command("PUBSUB", "SHARDCHANNELS", pattern):
                    holders.add(server.port)
            finally:
                client.close()
        assert len(holders) >= 2, "every room channel on one master: the test proves nothing"
    for room in rooms:
        await f.nodes[0].sio.emit("news", room, to=room)
    await f.settle()
    for i in range(6):
        assert sorted(d for _e, d in f.peers[f"p{i}"].events()) == sorted([rooms[i], rooms[i + 6]])


async def test_volatile_broadcast_is_dropped_by_the_node_where_it_cannot_go_now(fleet: Any) -> None:
    """A socket of node 1 whose connect handler still runs holds a normal broadcast of node 0 and
    drops a volatile one: the volatile flag crosses the cluster, and only for volatile emits."""
    f, _ = await spread(fleet)
    entered = asyncio.Event()
    release = asyncio.Event()

    @f.nodes[1].sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        if auth["name"] == "slow":
            entered.set()
            await release.wait()

    joining = asyncio.ensure_future(f.nodes[1].connect("slow"))
    try:
        await asyncio.wait_for(entered.wait(), 5)
        await f.nodes[0].sio.emit("volatile", 1, volatile=True)
        await f.nodes[0].sio.emit("normal", 2)
        await f.peers["d"].until("normal")  # node 1 has handled both
    finally:
        release.set()
    await joining
    await f.settle()
    assert f.peers["slow"].events() == [("normal", 2)]
    for name in "abcd":
        assert f.peers[name].events() == [("volatile", 1), ("normal", 2)], name


async def test_volatile_emit_with_ack_counts_only_those_another_node_reached(fleet: Any) -> None:
    """Node 1's socket that drops the volatile packet (its connect handler still runs) is not
    counted by node 1: the acks of the others end the call at once, not at its timeout."""
    f, _ = await spread(fleet)
    entered = asyncio.Event()
    release = asyncio.Event()

    @f.nodes[1].sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        if auth["name"] == "slow":
            entered.set()
            await release.wait()

    joining = asyncio.ensure_future(f.nodes[1].connect("slow"))
    try:
        await asyncio.wait_for(entered.wait(), 5)
        started = time.monotonic()
        answers = await f.nodes[0].sio.emit_with_ack("ask", "q", volatile=True, timeout=10)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    await joining
    assert sorted(answers) == ["a", "b", "c", "d"] and elapsed < 5
    await f.settle()
    assert "ask" not in [e for e, _ in f.peers["slow"].events()]


async def test_binary_crosses_nodes_both_ways(fleet: Any) -> None:
    """Bytes in a broadcast reach the other node's clients as bytes, and bytes in their acks come
    back as bytes."""
    f, _ = await spread(fleet)

    async def echo(data: Any) -> Any:
        return {"got": data, "raw": b"\xff\x00"}

    blob = bytes(range(256))
    await f.nodes[1].connect("e", answer=echo)
    await f.nodes[0].sio.emit("bin", {"blob": blob, "n": 1}, to="r")
    await f.settle()
    assert f.received("bin") == {"a", "b"}
    assert f.peers["b"].events() == [("bin", {"blob": blob, "n": 1})]
    answers = await f.nodes[0].sio.emit_with_ack("ask", blob, to=f.peers["e"].sid, timeout=5)
    assert answers == [{"got": blob, "raw": b"\xff\x00"}]


@pytest.mark.allow_server_errors("packet queue is empty")  # python-socketio's client, on the close
async def test_disconnect_sockets_with_close_ends_the_connection_on_another_node(fleet: Any) -> None:
    """``disconnect_sockets(close=True)`` from node 0 closes the whole connection of node 1's
    client (its other namespace too); without ``close`` only that namespace goes."""
    f: Fleet = await fleet(2, namespaces=["/", "/other"])
    n0, n1 = f.nodes
    both = await n1.connect("both", namespaces=["/", "/other"])
    keep = await n1.connect("keep", namespaces=["/", "/other"])
    await n1.connect("stay")
    await n0.sio.disconnect_sockets(to=keep.sid)
    await n0.sio.disconnect_sockets(to=both.sid, close=True)
    await until(lambda: both.client.eio.state != "connected")
    await until(lambda: "/" not in keep.client.namespaces)
    assert keep.client.namespaces == {"/other": keep.client.get_sid("/other")}
    assert f.peers["stay"].client.connected


# -- one sid of another node ----------------------------------------------------------------------


async def test_emit_and_call_reach_a_sid_of_another_node(fleet: Any) -> None:
    """``emit(to=sid)`` and ``call(to=sid)`` of a client of the other node: it alone gets the event,
    once, and its answer comes back; a sid no node holds fails as not connected, quickly."""
    f, sid = await spread(fleet)
    await f.nodes[0].sio.emit("direct", {"n": 1}, to=sid["b"])
    await f.settle()
    assert f.received("direct") == {"b"} and f.peers["b"].events() == [("direct", {"n": 1})]
    assert await f.nodes[0].sio.call("ask", "q", to=sid["b"], timeout=5) == "b"
    assert await f.nodes[1].sio.call("ask", "q", to=sid["c"], timeout=5) == "c"
    started = time.monotonic()
    with pytest.raises(exceptions.DisconnectedError):
        await f.nodes[0].sio.call("ask", "q", to="no-such-sid", timeout=5)
    assert time.monotonic() - started < 3, "waited for the timeout instead of the other node's count"
    await f.settle()
    assert [e for e, _ in f.peers["b"].events()] == ["direct", "ask"]
    assert f.received("ask") == {"b", "c"}


async def test_room_changes_and_disconnect_of_a_sid_of_another_node(fleet: Any) -> None:
    """``enter_room``/``leave_room``/``close_room``/``disconnect`` called on node 0 act on a client
    of node 1 (its disconnect handler runs there, with the server's reason)."""
    f, sid = await spread(fleet)
    n0, n1 = f.nodes
    left: dict[str, str] = {}

    @n1.sio.event
    async def disconnect(s: str, reason: str) -> None:
        left[s] = reason

    await n0.sio.enter_room(sid["b"], "x")
    await n0.sio.leave_room(sid["b"], "r")
    await f.settle()
    assert n1.sio.rooms(sid["b"]) == [sid["b"], "s", "x"]
    await n0.sio.emit("news", 1, to="x")
    await n0.sio.emit("other", 1, to="r")
    await f.settle()
    assert f.received("news") == {"b"} and f.received("other") == {"a"}
    await n0.sio.close_room("s")
    await f.settle()
    assert n1.sio.rooms(sid["b"]) == [sid["b"], "x"] and n0.sio.rooms(sid["c"]) == [sid["c"]]
    await n0.sio.disconnect(sid["d"])
    await until(lambda: not f.peers["d"].client.connected)
    await until(lambda: sid["d"] in left)
    assert left == {sid["d"]: CloseReason.SERVER_DISCONNECT}
    assert connected(f) == {"a", "b", "c"}


@pytest.mark.parametrize("operation", ["disconnect", "enter_room", "leave_room", "call"])
async def test_sid_selectors_never_select_a_room_of_another_node(fleet: Any, operation: str) -> None:
    """``disconnect``/``enter_room``/``leave_room``/``call`` given a name that is a room on the
    other node (and nobody's sid) select nobody there either, as on one node (and as
    python-socketio's Redis manager, which looks the sid up)."""
    f: Fleet = await fleet(2)
    n0, n1 = f.nodes
    for name in "ab":
        await n1.connect(name)
    sid = {n: p.sid for n, p in f.peers.items()}
    for name in "ab":
        await n1.sio.enter_room(sid[name], "lobby")
    await f.rooms_ready()
    if operation == "disconnect":
        await n0.sio.disconnect("lobby")
    elif operation == "enter_room":
        await n0.sio.enter_room("lobby", "elsewhere")
    elif operation == "leave_room":
        await n0.sio.leave_room("lobby", "lobby")
    else:
        with pytest.raises(exceptions.DisconnectedError):
            await n0.sio.call("ask", to="lobby", timeout=2)
    await f.settle()
    assert connected(f) == {"a", "b"}
    assert [sorted(n1.sio.rooms(sid[name])) for name in "ab"] == [sorted([sid[n], "lobby"]) for n in "ab"]
    assert not f.received("ask")


# -- room changes, disconnects and descriptions by selector --------------------------------------


async def test_sockets_join_leave_and_disconnect_sockets_across_nodes(fleet: Any) -> None:
    f, sid = await spread(fleet)
    n0, n1 = f.nodes
    await n0.sio.sockets_join("t", to="s", skip_sid=sid["c"])
    await n0.sio.sockets_join(["u", "v"], to=["r", sid["d"]], skip_sid=sid["a"])
    await f.settle()
    assert n1.sio.rooms(sid["b"]) == [sid["b"], "r", "s", "t", "u", "v"]
    assert n1.sio.rooms(sid["d"]) == [sid["d"], "u", "v"]
    assert n0.sio.rooms(sid["a"]) == [sid["a"], "r"] and n0.sio.rooms(sid["c"]) == [sid["c"], "s"]
    await n1.sio.sockets_join("w", to="s")  # from the other side: c, of node 0, joins too
    await n1.sio.sockets_leave(["u"], to="v", skip_sid=sid["d"])
    await f.settle(via=n1)
    assert n0.sio.rooms(sid["c"]) == [sid["c"], "s", "w"]
    assert n1.sio.rooms(sid["b"]) == [sid["b"], "r", "s", "t", "v", "w"]
    assert n1.sio.rooms(sid["d"]) == [sid["d"], "u", "v"]
    await n0.sio.disconnect_sockets(to="w", skip_sid=sid["b"])
    await until(lambda: not f.peers["c"].client.connected)
    await n0.sio.disconnect_sockets(to="v")
    await until(lambda: connected(f) == {"a"})


async def test_fetch_sockets_describes_the_sockets_of_every_node(fleet: Any) -> None:
    """RemoteSockets from both nodes: sid, rooms, user session, Node's handshake, ``local`` only for
    this node's, each described alike wherever it is fetched; their emit/join/leave/disconnect act
    where the socket lives."""
    f, sid = await spread(fleet)
    n0, n1 = f.nodes
    await n1.sio.save_session(sid["b"], {"name": "b", "n": [1, 2]})
    found = await n0.sio.fetch_sockets(to="s")
    assert found.complete and found.missing == 0
    by_sid = {s.sid: s for s in found}
    assert sorted(by_sid) == sorted([sid["b"], sid["c"]])
    b, c = by_sid[sid["b"]], by_sid[sid["c"]]
    assert not b.local and c.local
    assert b.rooms == {sid["b"], "r", "s"} and b.data == {"name": "b", "n": [1, 2]}
    views = [{s.sid: s for s in await node.sio.fetch_sockets()} for node in (n0, n1)]
    for s_id in sid.values():  # a socket is described alike by its own node and by the other
        here, there = (view[s_id] for view in views)
        assert here.local != there.local
        assert (here.rooms, here.data) == (there.rooms, there.data)
        assert dict(here.handshake) == dict(there.handshake)
    hs = b.handshake
    assert hs["auth"] == {"name": "b"} and hs["address"] == "127.0.0.1" and hs["secure"] is False
    assert hs["query"]["EIO"] == "4" and hs["url"].startswith("/socket.io/?")
    assert isinstance(hs["issued"], int) and "host" in hs["headers"]
    everyone = await n1.sio.fetch_sockets(skip_sid="r")
    assert sorted(s.sid for s in everyone) == sorted([sid["c"], sid["d"]]) and everyone.complete
    assert await n0.sio.fetch_sockets(to="nobody") == []
    await b.join(["x", "y"])
    await b.leave("r")
    await b.emit("direct", (1, 2))
    await f.settle()
    assert n1.sio.rooms(sid["b"]) == [sid["b"], "s", "x", "y"]
    assert f.received("direct") == {"b"} and f.peers["b"].events() == [("direct", (1, 2))]
    await b.disconnect()
    await until(lambda: not f.peers["b"].client.connected)
    assert [s.sid for s in await n0.sio.fetch_sockets(to="s")] == [sid["c"]]


async def test_fetch_sockets_gathers_from_three_nodes(fleet: Any) -> None:
    """A node with no socket answers too (nothing is missing); every node's sockets are there."""
    f: Fleet = await fleet(3)
    for i, name in enumerate("abcd"):
        await f.nodes[i % 2].connect(name)  # node 2 has none
    for node in f.nodes:
        found = await node.sio.fetch_sockets()
        assert found.complete and sorted(s.sid for s in found) == sorted(p.sid for p in f.peers.values())


# -- server-side events and the server count ------------------------------------------------------


async def test_server_side_events_reach_every_other_server(fleet: Any) -> None:
    """``server_side_emit`` runs every other server's handler with the arguments, never the
    sender's and never a client's; ``server_side_call`` returns one answer per other server."""
    f: Fleet = await fleet(3)
    await f.nodes[0].connect("a")
    heard: dict[int, list[Any]] = {0: [], 1: [], 2: []}
    for i, node in enumerate(f.nodes):

        def handler(*args: Any, i: int = i) -> Any:
            heard[i].append(args)
            return {"node": i, "args": list(args)}

        node.sio.on_server_event("hello", handler)
    await f.nodes[0].sio.server_side_emit("hello", 1, {"two": 2})
    await until(lambda: heard[1] and heard[2])
    answers = await f.nodes[1].sio.server_side_call("hello", "q", timeout=5)
    assert answers.complete and answers.missing == 0
    assert sorted(answers, key=lambda a: a["node"]) == [
        {"node": 0, "args": ["q"]},
        {"node": 2, "args": ["q"]},
    ]
    await f.settle()
    assert heard == {0: [("q",)], 1: [(1, {"two": 2})], 2: [(1, {"two": 2}), ("q",)]}
    assert f.received("hello") == set()


async def test_server_side_call_reports_a_server_that_never_answers(fleet: Any) -> None:
    """A server whose handler never returns does not fail the call: the others' answers come back
    at the timeout, and ``missing`` counts it."""
    f: Fleet = await fleet(3)
    f.nodes[1].sio.on_server_event("hello", lambda *args: "one")

    async def never(*_args: Any) -> Any:
        await asyncio.sleep(30)

    f.nodes[2].sio.on_server_event("hello", never)
    started = time.monotonic()
    answers = await f.nodes[0].sio.server_side_call("hello", timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 3
    assert answers == ["one"] and answers.missing == 1 and not answers.complete
    # Named when the adapter can tell, and then it is the silent one.
    assert answers.missing_servers in ((), (f.nodes[2].adapter.driver.uid,))


async def test_a_server_that_shuts_down_stops_being_counted(fleet: Any) -> None:
    f: Fleet = await fleet(3)
    for i, name in enumerate("abc"):
        await f.nodes[i].connect(name)
    for node in f.nodes:
        assert await node.sio.server_count() == 3
    await f.peers["c"].client.disconnect()
    await f.nodes[2].sio.shutdown()
    rest: list[Cluster] = f.nodes[:2]
    await until_count(rest, 2)
    found = await rest[0].sio.fetch_sockets(timeout=2)
    assert found.complete and sorted(s.sid for s in found) == sorted([f.peers["a"].sid, f.peers["b"].sid])
    assert sorted(await rest[1].sio.emit_with_ack("ask", None, timeout=2)) == ["a", "b"]


# -- broadcast with acks -------------------------------------------------------------------------


async def test_emit_with_ack_gathers_the_answers_of_every_node(fleet: Any) -> None:
    f, sid = await spread(fleet)
    n0, n1 = f.nodes
    assert sorted(await n0.sio.emit_with_ack("ask", "q", to=["r", "s"], timeout=5)) == ["a", "b", "c"]
    assert sorted(await n1.sio.emit_with_ack("ask", "q", skip_sid=sid["a"], timeout=5)) == ["b", "c", "d"]
    assert sorted(await n0.sio.emit_with_ack("ask", "q", to="s", timeout=5)) == ["b", "c"]
    assert await n0.sio.emit_with_ack("ask", "q", to="nobody", timeout=5) == []
    answers: list[Any] = []
    await n1.sio.emit("ask", None, to="r", callback=answers.append)
    await until(lambda: len(answers) == 2)
    assert sorted(answers) == ["a", "b"]
    await f.settle()
    await f.settle(via=n1)
    for name, times in (("a", 2), ("b", 4), ("c", 3), ("d", 1)):
        assert [e for e, _ in f.peers[name].events()] == ["ask"] * times, name


async def test_emit_with_ack_counts_a_node_with_no_recipient(fleet: Any) -> None:
    """Three nodes, the recipients on two: the third reports none, and the call ends at once."""
    f: Fleet = await fleet(3)
    await f.nodes[1].connect("a")
    await f.nodes[2].connect("b")
    started = time.monotonic()
    assert sorted(await f.nodes[0].sio.emit_with_ack("ask", None, timeout=10)) == ["a", "b"]
    assert time.monotonic() - started < 5


async def test_emit_with_ack_times_out_with_what_arrived_from_every_node(fleet: Any) -> None:
    f: Fleet = await fleet(2)
    n0, n1 = f.nodes

    async def never(_data: Any) -> Any:
        await asyncio.sleep(30)

    await n0.connect("a")
    await n1.connect("b")
    await n1.connect("late", answer=never)
    started = time.monotonic()
    with pytest.raises(exceptions.AcksMissingError) as info:
        await n0.sio.emit_with_ack("ask", None, timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 3
    err = info.value
    assert sorted(err.responses) == ["a", "b"] and err.expected == 3


async def test_namespaces_are_kept_apart_across_nodes(fleet: Any) -> None:
    """A broadcast, an ack broadcast and a fetch of ``/other`` reach only ``/other``'s clients."""
    f: Fleet = await fleet(2, namespaces=["/", "/other"])
    n0, n1 = f.nodes
    await n0.connect("a")
    both = await n1.connect("b", namespaces=["/", "/other"])
    other_sid = both.client.get_sid("/other")

    async def on_other(event: str, *args: Any) -> Any:
        both.record(f"other:{event}", args)
        return "b on /other"

    both.client.on("*", on_other, namespace="/other")
    await n0.sio.emit("news", 1, namespace="/other")
    assert await n0.sio.emit_with_ack("ask", None, namespace="/other", timeout=5) == ["b on /other"]
    found = await n0.sio.fetch_sockets(namespace="/other")
    assert [s.sid for s in found] == [other_sid] and found.complete
    await f.settle()
    assert f.received("other:news") == {"b"} and f.received("other:ask") == {"b"}
    assert f.received("news") == set() and f.received("ask") == set()
    assert await n0.sio.server_count(namespace="/other") == 2


# -- shutdown --------------------------------------------------------------------------------------


@pytest.mark.allow_server_errors("exception was never retrieved")  # asserted below, in the test
async def test_a_server_shut_down_while_its_room_subscriptions_change_logs_no_error(
    adapter_factory: Any,
    serve: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server shut down while Redis has not confirmed the subscription of a room it just got
    (the modes that subscribe per room; Redis is frozen, SIGSTOP, to hold the confirmation back)
    ends quietly: nothing is logged at ERROR."""
    sio = aiosio.AsyncServer(client_manager=adapter_factory.manager())
    node = Cluster(sio, sio.manager.adapter, (await serve(sio)).url)
    peer = await node.connect("a")
    for server in adapter_factory.servers:
        os.kill(server.pid, signal.SIGSTOP)
    try:
        await sio.enter_room(peer.sid, "room")
        await asyncio.sleep(0.2)  # the SSUBSCRIBE is sent, its confirmation held back
        shutdown = asyncio.ensure_future(sio.shutdown())
        await asyncio.sleep(0.5)  # the adapter is closing (its room subscriptions stopped)
    finally:
        for server in adapter_factory.servers:
            os.kill(server.pid, signal.SIGCONT)
    await asyncio.wait_for(shutdown, 10)
    gc.collect()  # an unretrieved future's error is logged when it is collected
    await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
