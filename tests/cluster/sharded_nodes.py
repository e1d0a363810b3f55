"""aiosio nodes on the sharded Redis adapter, for the sharded interop tests: an in-process
``AsyncServer`` (namespaces ``/`` and ``/admin``) on ``AsyncRedisManager(mode="sharded")``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosio
from aiosio.adapters.cluster import ClusterAdapter
from aiosio.adapters.redis.sharded import ShardedDriver

from .node_peer import NodePeer

HELLO_ARGS: list[Any] = ["world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]


@dataclass
class AioNode:
    """One aiosio server of the cluster."""

    sio: aiosio.AsyncServer
    url: str
    driver: ShardedDriver
    #: server-side events its handlers received: (event, args).
    server_events: list[tuple[str, list[Any]]]

    @property
    def uid(self) -> str:
        """The node's uid on the wire (the same for every namespace, unlike Node's)."""
        return self.driver.uid

    async def settle(self) -> None:
        """Wait until the room subscriptions asked so far are in place."""
        await self.driver.settle()


async def start_aio_node(
    serve: Callable[..., Awaitable[Any]],
    url: str,
    mode: str = "dynamic",
    *,
    cluster: bool = False,
    reply: Any = None,
    **options: Any,
) -> AioNode:
    """Serve an aiosio node on 127.0.0.1; its ``ping-servers`` handler answers ``reply`` (or
    ``{"node": "py", "got": args}``)."""
    manager = aiosio.AsyncRedisManager(
        url, mode="sharded", subscription_mode=mode, cluster=cluster, **options
    )
    sio = aiosio.AsyncServer(client_manager=manager, namespaces=["/", "/admin"])
    events: list[tuple[str, list[Any]]] = []

    def ping(*args: Any) -> Any:
        events.append(("ping-servers", list(args)))
        return reply if reply is not None else {"node": "py", "got": list(args)}

    def hello(*args: Any) -> None:
        events.append(("hello-servers", list(args)))

    sio.on_server_event("ping-servers", ping)
    sio.on_server_event("hello-servers", hello)
    handle = await serve(sio)
    adapter = manager.adapter
    assert isinstance(adapter, ClusterAdapter) and isinstance(adapter.driver, ShardedDriver)
    return AioNode(sio, handle.url, adapter.driver, events)


async def wait_count(check: Callable[[], Awaitable[int]], want: int, timeout: float = 5.0) -> None:
    """Poll a server count until it is ``want``."""
    async with asyncio.timeout(timeout):
        while await check() != want:
            await asyncio.sleep(0.02)


def got(node: NodePeer, cid: str, name: str) -> list[dict[str, Any]]:
    """Every ``client-event`` *name* client *cid* of *node* received so far."""
    return [e for e in node.events if e["event"] == "client-event" and e["cid"] == cid and e["name"] == name]


async def mark(emit: Callable[[], Awaitable[Any]], holder: NodePeer, *cids: str) -> None:
    """Broadcast ``mark`` to everyone (``emit`` does it) and wait until each client got it: what
    the same sender broadcast before has arrived too (one Redis connection, one socket, in order)."""
    await emit()
    for cid in cids:
        await holder.next_event({"event": "client-event", "cid": cid, "name": "mark"})
