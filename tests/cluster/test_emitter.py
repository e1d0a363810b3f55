"""Emitters in a classic cluster (CLUSTER-WIRE.md §1.8, §8 row 15): what Node's
``@socket.io/redis-emitter`` 5.1.0 publishes is delivered by aiosio nodes, and ``aiosio.RedisEmitter``
and ``AsyncRedisManager(write_only=True)`` reach Node and aiosio nodes alike: emits to rooms, except,
namespaces, socketsJoin/Leave, disconnectSockets, serverSideEmit. An emitter never subscribes, so it
is never counted as a server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import aiosio

from .classic_support import LocalFactory, aiosio_node, connect, counts, until, who_got
from .conftest import NodeFactory
from .node_peer import NodePeer
from .py_node import LocalPeer
from .redis_fixtures import RedisServer

__all__ = ["aiosio_node"]  # a fixture used here

pytestmark = [pytest.mark.interop, pytest.mark.timeout(10)]


class EmitterActor:
    """One emitter's operations, whatever the emitter is (``kind``: ``node`` = Node's redis-emitter
    run by the Node node, ``aiosio`` = :class:`aiosio.RedisEmitter`)."""

    def __init__(self, kind: str, node: NodePeer, url: str) -> None:
        self.kind = kind
        self.node = node
        self.emitter = aiosio.RedisEmitter(url) if kind == "aiosio" else None

    async def emit(
        self, event: str, *args: Any, rooms: Any = None, exclude: Any = None, nsp: str = "/"
    ) -> None:
        """Emit to the selected sockets of every server."""
        if self.emitter is None:
            opts: dict[str, Any] = {"rooms": rooms, "except": exclude}
            await self.node.command("emitter", event=event, args=list(args), nsp=nsp, **opts)
        else:
            await self.emitter.emit(event, *args, to=rooms, skip_sid=exclude, namespace=nsp)

    async def join(self, rooms: Any, join: list[str]) -> None:
        """socketsJoin."""
        if self.emitter is None:
            await self.node.command("emitter", action="socketsJoin", rooms=rooms, join=join)
        else:
            await self.emitter.sockets_join(join, to=rooms)

    async def leave(self, rooms: Any, leave: list[str]) -> None:
        """socketsLeave."""
        if self.emitter is None:
            await self.node.command("emitter", action="socketsLeave", rooms=rooms, leave=leave)
        else:
            await self.emitter.sockets_leave(leave, to=rooms)

    async def disconnect(self, rooms: Any, close: bool) -> None:
        """disconnectSockets."""
        if self.emitter is None:
            await self.node.command("emitter", action="disconnectSockets", rooms=rooms, close=close)
        else:
            await self.emitter.disconnect_sockets(to=rooms, close=close)

    async def server_side(self, event: str, *args: Any) -> None:
        """serverSideEmit (no acks: an emitter cannot receive them)."""
        if self.emitter is None:
            await self.node.command("emitter", action="serverSideEmit", event=event, args=list(args))
        else:
            await self.emitter.server_side_emit(event, *args)

    async def close(self) -> None:
        """Close an aiosio emitter."""
        if self.emitter is not None:
            await self.emitter.close()


async def emitter_settle(actor: EmitterActor, node: NodePeer, cids: list[str], nsp: str = "/") -> None:
    """A mark from the emitter itself (its publishes are ordered) reached each client."""
    await actor.emit("mark", nsp=nsp)
    for cid in cids:
        await node.next_event({"event": "client-event", "cid": cid, "name": "mark"})


async def members(peers: list[Any], room: str) -> list[str]:
    """The sids in *room* on every peer."""
    found: list[str] = []
    for peer in peers:
        found += (await peer.command("localState"))["rooms"].get(room, [])
    return sorted(found)


def waiting_for(peers: list[Any], room: str, sids: list[str]) -> Callable[[], Awaitable[bool]]:
    """A check: *room* holds exactly *sids* over *peers*."""

    async def check() -> bool:
        return await members(peers, room) == sorted(sids)

    return check


@pytest.mark.parametrize("kind", ["node", "aiosio"])
async def test_emitter_reaches_node_and_aiosio_nodes(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory, kind: str
) -> None:
    """Every emitter operation acts on the sockets of both nodes exactly as selected; the emitter
    is never counted as a server."""
    node = await node_cluster_node("classic", redis_server.url, name="A")
    py: LocalPeer = await aiosio_node(redis_server.url)
    actor = EmitterActor(kind, node, redis_server.url)
    try:
        a1, a2 = await connect(node, node, "room1"), await connect(node, node)
        p1, p2 = await connect(node, py, "room1"), await connect(node, py)
        aa, pa = await connect(node, node, nsp="/admin"), await connect(node, py, nsp="/admin")
        main = [a1["cid"], a2["cid"], p1["cid"], p2["cid"]]
        admin = [aa["cid"], pa["cid"]]
        await py.command("onServerSide", event="from-emitter", reply=None)
        await node.command("onServerSide", event="from-emitter")

        await actor.emit("e-room", 1, b"\x02", rooms="room1")
        await actor.emit("e-except", "x", exclude="room1")
        await actor.emit("e-two", rooms=[a2["sid"], p2["sid"]])
        await actor.emit("e-admin", {"k": "v"}, nsp="/admin")
        await emitter_settle(actor, node, main)
        await emitter_settle(actor, node, admin, nsp="/admin")
        everyone = main + admin
        assert who_got(node, "e-room", everyone) == {a1["cid"]: 1, p1["cid"]: 1}
        ev = await node.next_event({"event": "client-event", "cid": p1["cid"], "name": "e-room"})
        assert ev["args"] == [1, b"\x02"]
        assert who_got(node, "e-except", everyone) == {a2["cid"]: 1, p2["cid"]: 1}
        assert who_got(node, "e-two", everyone) == {a2["cid"]: 1, p2["cid"]: 1}
        assert who_got(node, "e-admin", everyone) == {aa["cid"]: 1, pa["cid"]: 1}
        assert await counts([node, py]) == [2, 2]

        await actor.join("room1", ["j"])
        await until(waiting_for([node, py], "j", [a1["sid"], p1["sid"]]))
        await actor.leave("room1", ["j"])
        await until(waiting_for([node, py], "j", []))

        await actor.server_side("from-emitter", "x", 1)
        for peer in (node, py):
            ev = await peer.next_event({"event": "server-side", "name": "from-emitter"})
            assert ev["args"] == ["x", 1]

        await actor.disconnect("room1", close=True)
        for info in (a1, p1):
            ev = await node.next_event({"event": "client-disconnect", "cid": info["cid"]})
            assert ev["reason"] == "io server disconnect"
        await emitter_settle(actor, node, [a2["cid"], p2["cid"]])
        assert (await py.command("localState"))["sockets"] == [p2["sid"]]
        assert await counts([node, py]) == [2, 2]
    finally:
        await actor.close()


async def test_write_only_manager_reaches_node_and_aiosio_nodes(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """python-socketio's ``write_only=True`` use: emit (room, skip_sid, namespace), enter_room,
    leave_room, close_room and disconnect act on sockets of Node and aiosio nodes; not counted."""
    node = await node_cluster_node("classic", redis_server.url, name="A")
    py: LocalPeer = await aiosio_node(redis_server.url)
    mgr = aiosio.AsyncRedisManager(redis_server.url, write_only=True)
    try:
        a1, a2 = await connect(node, node, "room1"), await connect(node, node)
        p1, p2 = await connect(node, py, "room1"), await connect(node, py)
        pa = await connect(node, py, nsp="/admin")
        main = [a1["cid"], a2["cid"], p1["cid"], p2["cid"]]

        async def settle_main() -> None:
            await mgr.emit("mark", None)
            for cid in main:
                await node.next_event({"event": "client-event", "cid": cid, "name": "mark"})

        await mgr.emit("w-room", data=(1, b"\x03"), room="room1")
        await mgr.emit("w-skip", data="x", skip_sid=p2["sid"])
        await mgr.emit("w-admin", data=1, namespace="/admin")
        await settle_main()
        ev = await node.next_event({"event": "client-event", "cid": pa["cid"], "name": "w-admin"})
        assert ev["args"] == [1]
        assert who_got(node, "w-room", main) == {a1["cid"]: 1, p1["cid"]: 1}
        ev = await node.next_event({"event": "client-event", "cid": a1["cid"], "name": "w-room"})
        assert ev["args"] == [1, b"\x03"]
        assert who_got(node, "w-skip", main) == {a1["cid"]: 1, a2["cid"]: 1, p1["cid"]: 1}

        await mgr.enter_room(a2["sid"], "/", "w")
        await mgr.enter_room(p2["sid"], "/", "w")
        await until(waiting_for([node, py], "w", [a2["sid"], p2["sid"]]))
        await mgr.leave_room(p2["sid"], "/", "w")
        await until(waiting_for([node, py], "w", [a2["sid"]]))
        await mgr.close_room("room1", "/")
        await until(waiting_for([node, py], "room1", []))
        await mgr.disconnect(p2["sid"], namespace="/")
        ev = await node.next_event({"event": "client-disconnect", "cid": p2["cid"]})
        assert ev["reason"] == "io server disconnect"
        assert await counts([node, py]) == [2, 2]
    finally:
        await mgr.close()


async def test_an_empty_target_list_selects_nobody(
    redis_server: RedisServer, node_cluster_node: NodeFactory, aiosio_node: LocalFactory
) -> None:
    """``to=[]`` selects nobody, as in ``sio.emit(to=[])``: the emitter publishes nothing (on the
    wire no rooms means everyone), so no client gets the event, joins or is disconnected."""
    node = await node_cluster_node("classic", redis_server.url, name="A")
    py: LocalPeer = await aiosio_node(redis_server.url)
    a1, p1 = await connect(node, node), await connect(node, py)
    async with aiosio.RedisEmitter(redis_server.url) as emitter:
        await emitter.emit("to-nobody", to=[])
        await emitter.sockets_join("joined", to=[])
        await emitter.disconnect_sockets(to=[], close=True)
        await emitter.emit("mark")
        for info in (a1, p1):
            await node.next_event({"event": "client-event", "cid": info["cid"], "name": "mark"})
    assert who_got(node, "to-nobody", [a1["cid"], p1["cid"]]) == {}
    assert await members([node, py], "joined") == []
    assert node.unclaimed({"event": "client-disconnect"}) == []
