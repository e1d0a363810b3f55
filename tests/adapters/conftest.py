"""Fixtures of the adapter contract suite: every test runs once per adapter in :data:`ADAPTERS`.

A new adapter proves itself by adding a factory here and passing the suite. Each test drives a real
aiosio server (127.0.0.1, random port) with real python-socketio clients and calls the adapter
through the public seams: ``AsyncServer`` methods and ``sio.manager.adapter``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio  # python-socketio, as the client peer only

import aiosio
from aiosio.adapters.memory import MemoryAdapter

WAIT = 5.0

#: name -> adapter class (a cluster adapter adds its factory here, with its redis-server fixture).
ADAPTERS: dict[str, type[Any]] = {"memory": MemoryAdapter}


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


@pytest.fixture(params=list(ADAPTERS))
def adapter_class(request: pytest.FixtureRequest) -> type[Any]:
    """The adapter under test (its class)."""
    return ADAPTERS[str(request.param)]


@pytest.fixture
async def cluster(serve: Any, adapter_class: type[Any]) -> AsyncIterator[Callable[..., Awaitable[Cluster]]]:
    """``c = await cluster()``: an aiosio server whose manager's adapter is a (spied) instance of
    the adapter under test. Peers are disconnected at teardown."""
    made: list[Cluster] = []

    async def _make(**server_kwargs: Any) -> Cluster:
        manager = aiosio.AsyncManager()
        manager.adapter = spy_class(adapter_class)()
        sio = aiosio.AsyncServer(client_manager=manager, **server_kwargs)
        handle = await serve(sio)
        c = Cluster(sio, manager.adapter, handle.url)
        made.append(c)
        return c

    yield _make
    for c in made:
        for peer in c.peers.values():
            if peer.client.connected:
                await peer.client.disconnect()
