"""The adapter contract suite's pieces (adapters under test, peers, servers, fleets), shared by
its fixtures (conftest.py) and its tests; in a module of its own so tests import them by a name no
other folder uses."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import socketio  # python-socketio, as the client peer only

import aiosio
from aiosio.adapters.memory import MemoryAdapter
from cluster.redis_fixtures import RedisServer  # tests/cluster's runners

WAIT = 5.0


@dataclass(frozen=True)
class AdapterKind:
    """One adapter under test: ``make(redis_url, channel)`` returns a server's client manager
    (its ``adapter`` is the adapter under test); ``redis`` says which Redis it needs: ``"server"``
    (one redis-server), ``"cluster"`` (a Redis Cluster of 3 masters: the url names one) or ``""``
    (none; the url is ``""``). Managers made with the same url and channel form one cluster."""

    make: Callable[[str, str], aiosio.AsyncManager]
    redis: str = ""


def _memory(_url: str, _channel: str) -> aiosio.AsyncManager:
    manager = aiosio.AsyncManager()
    manager.adapter = MemoryAdapter()
    return manager


def _redis_classic(url: str, channel: str) -> aiosio.AsyncManager:
    return aiosio.AsyncRedisManager(url, channel=channel)


def _redis_sharded(url: str, channel: str, *, mode: str, cluster: bool = False) -> aiosio.AsyncManager:
    manager: Any = aiosio.AsyncRedisManager  # mode= and subscription_mode= are the sharded driver's
    made: aiosio.AsyncManager = manager(
        url, channel=channel, mode="sharded", subscription_mode=mode, cluster=cluster
    )
    return made


def _sharded_exists() -> bool:
    """Whether the sharded driver has landed (its module imports)."""
    try:
        return importlib.util.find_spec("aiosio.adapters.redis.sharded") is not None
    except ImportError:
        return False


ADAPTERS: dict[str, AdapterKind] = {
    "memory": AdapterKind(_memory),
    "redis-classic": AdapterKind(_redis_classic, redis="server"),
}


def _redis_streams(
    url: str, channel: str, *, sharded: bool = False, cluster: bool = False
) -> aiosio.AsyncManager:
    manager: Any = aiosio.AsyncRedisManager  # mode='streams' and stream_name= are the streams driver's
    made: aiosio.AsyncManager = manager(
        url, channel=channel, mode="streams", stream_name=channel, use_sharded_pubsub=sharded, cluster=cluster
    )
    return made


ADAPTERS["redis-streams"] = AdapterKind(_redis_streams, redis="server")
ADAPTERS["redis-streams-sharded-pubsub"] = AdapterKind(partial(_redis_streams, sharded=True), redis="server")
ADAPTERS["redis-cluster-streams"] = AdapterKind(partial(_redis_streams, cluster=True), redis="cluster")


if _sharded_exists():
    for _mode in ("dynamic", "static", "dynamic-private"):
        ADAPTERS[f"redis-sharded-{_mode}"] = AdapterKind(partial(_redis_sharded, mode=_mode), redis="server")
    #: On a Redis Cluster: room channels live on different masters (test_contract_cluster.py checks).
    ADAPTERS["redis-cluster-sharded-dynamic"] = AdapterKind(
        partial(_redis_sharded, mode="dynamic", cluster=True), redis="cluster"
    )


def spy_class(base: type[Any]) -> type[Any]:
    """A subclass of ``base`` recording its lifecycle calls and broadcasts (and nothing else)."""

    class Spy(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.calls: list[str] = []

        async def init(self, host: Any) -> None:
            self.calls.append("init")
            await super().init(host)

        async def close(self) -> None:
            self.calls.append("close")
            await super().close()

        async def broadcast(self, packet: Any, selector: Any) -> None:
            self.calls.append("broadcast")
            await super().broadcast(packet, selector)

    return Spy


@dataclass
class Peer:
    """A python-socketio client and what it received, in order."""

    client: socketio.AsyncClient
    name: str
    sid: str = ""
    got: list[tuple[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, event: str, data: Any) -> None:
        self.got.append((event, data))
        self.arrived.set()

    async def until(self, event: str) -> None:
        """Wait until ``event`` has arrived."""
        async with asyncio.timeout(WAIT):
            while not any(e == event for e, _ in self.got):
                self.arrived.clear()
                await self.arrived.wait()

    def events(self, *, but: str = "mark") -> list[tuple[str, Any]]:
        """What arrived, without the markers."""
        return [(e, d) for e, d in self.got if e != but]


@dataclass
class Cluster:
    """One aiosio server on the adapter under test, and its peers."""

    sio: aiosio.AsyncServer
    adapter: Any
    url: str
    peers: dict[str, Peer] = field(default_factory=dict)

    async def connect(
        self,
        name: str,
        answer: Callable[[Any], Awaitable[Any]] | None = None,
        namespaces: list[str] | None = None,
    ) -> Peer:
        """Connect a peer; it records every event, and answers ``ask`` with ``answer(data)``
        (its name by default)."""
        client = socketio.AsyncClient(reconnection=False)
        peer = Peer(client, name)

        async def any_event(event: str, *args: Any) -> Any:
            peer.record(event, args[0] if len(args) == 1 else args)
            if event == "ask":
                return await answer(args[0] if args else None) if answer else name
            return None

        client.on("*", any_event)
        await client.connect(
            self.url, transports=["websocket"], wait_timeout=WAIT, auth={"name": name}, namespaces=namespaces
        )
        peer.sid = client.get_sid("/") or ""
        self.peers[name] = peer
        return peer

    async def settle(self) -> None:
        """Let everything sent so far arrive: a marker to everyone, awaited on every peer."""
        for peer in self.peers.values():
            peer.got[:] = [g for g in peer.got if g[0] != "mark"]
        await self.sio.emit("mark")
        for peer in self.peers.values():
            if "/" in peer.client.namespaces:
                await peer.until("mark")

    def received(self, event: str) -> set[str]:
        """Names of the peers that received ``event``."""
        return {n for n, p in self.peers.items() if any(e == event for e, _ in p.got)}


@dataclass(frozen=True)
class AdapterFactory:
    """The adapter under test, bound to this test's Redis and channel prefix: every manager it
    makes joins the same cluster (of one server, or several)."""

    name: str
    kind: AdapterKind
    url: str
    channel: str
    #: The redis-server processes behind ``url`` (none for an adapter without Redis).
    servers: tuple[RedisServer, ...] = ()

    def manager(self) -> aiosio.AsyncManager:
        """A new client manager on the adapter under test, its adapter spied (:func:`spy_class`)."""
        manager = self.kind.make(self.url, self.channel)
        adapter = manager.adapter
        # The same instance, its class swapped for a recording subclass (whatever the factory built).
        adapter.__class__ = spy_class(type(adapter))
        adapter.calls = []
        return manager


@dataclass
class Fleet:
    """Several aiosio servers of one cluster (the same adapter, Redis and channel prefix), each
    with its own peers (names unique across the fleet)."""

    nodes: list[Cluster]

    @property
    def peers(self) -> dict[str, Peer]:
        """Every peer of every node, by name."""
        return {name: peer for node in self.nodes for name, peer in node.peers.items()}

    def node_of(self, name: str) -> Cluster:
        """The node peer ``name`` is connected to."""
        return next(node for node in self.nodes if name in node.peers)

    async def rooms_ready(self) -> None:
        """Wait until every node's room subscriptions are confirmed by Redis (the sharded driver's
        ``settle()``, in the modes that subscribe a channel per room; a no-op otherwise). Until
        then a node does not hear a broadcast to a room it has just got its first member in: the
        same window Node's dynamic modes have."""
        for node in self.nodes:
            settle = getattr(getattr(node.adapter, "driver", None), "settle", None)
            if settle is not None:
                await settle()

    async def settle(self, via: Cluster | None = None) -> None:
        """Let everything ``via`` (the first node by default) sent so far arrive everywhere: a
        marker from it to everyone, awaited by every peer (the operations before it are done),
        then one to each room any peer is in now (its sid room too), awaited by each member; the
        room subscriptions all that caused are confirmed too.

        A cluster keeps one node's messages in order per channel only: on a Redis Cluster a room's
        channel and the namespace's live on different masters, so a marker on one says nothing of
        the other. A marker down every channel does."""
        sender = via or self.nodes[0]
        await self.rooms_ready()
        for peer in self.peers.values():
            peer.got[:] = [g for g in peer.got if g[0] != "mark"]
        await self._marks(sender, lambda node, peer: {"*"})  # the operations sent so far are done
        await self.rooms_ready()
        await self._marks(sender, lambda node, peer: set(node.sio.rooms(peer.sid)))
        await self.rooms_ready()

    async def _marks(self, sender: Cluster, rooms: Callable[[Cluster, Peer], set[str]]) -> None:
        """Send a marker to each of the rooms (``*``: everyone) ``rooms(node, peer)`` names for
        the connected peers; wait until each peer got those of its rooms."""
        expected: dict[str, set[str]] = {}
        for node in self.nodes:
            for name, peer in node.peers.items():
                if peer.client.connected and "/" in peer.client.namespaces:
                    expected[name] = rooms(node, peer)
        for room in sorted(set().union(*expected.values())):
            await sender.sio.emit("mark", room, to=None if room == "*" else room)
        peers = self.peers
        async with asyncio.timeout(WAIT):
            for name, wanted in expected.items():
                peer = peers[name]
                while not wanted <= {d for e, d in peer.got if e == "mark"}:
                    peer.arrived.clear()
                    await peer.arrived.wait()

    def received(self, event: str) -> set[str]:
        """Names of the peers (of any node) that received ``event``."""
        return {n for n, p in self.peers.items() if any(e == event for e, _ in p.got)}


async def until_count(nodes: list[Cluster], count: int, timeout: float = WAIT) -> None:
    """Wait until every node counts ``count`` servers."""
    async with asyncio.timeout(timeout):
        while True:
            counts = [await node.sio.server_count() for node in nodes]
            if all(c == count for c in counts):
                return
            await asyncio.sleep(0.02)
