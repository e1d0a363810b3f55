"""The CSR seam (adapters/cluster.py ``LoggedDriver``): a cluster driver whose bus is a shared log
makes connection-state recovery work across nodes. Driven here with an in-process log shared by
two real aiosio servers (the Redis Streams driver is tested on a real Redis elsewhere in this
folder): what the adapter sends to the log, which offsets each node's clients see, and the calls
the server makes on the store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio.adapters.base import Selector
from aiosio.adapters.cluster import ClusterAdapter, LoggedDriver
from aiosio.adapters.message_driver import MessageDriver
from aiosio.protocol.cluster import ClusterMessage, decode_cluster, hex_uid
from aiosio.recovery.options import RecoveryOptions
from aiosio.recovery.store import RecoveryStats, Restored, SessionState

pytestmark = pytest.mark.timeout(30)


class SharedLog:
    """Every node's driver, and the log of broadcasts (offset, namespace, event, args, selector)."""

    def __init__(self) -> None:
        self.drivers: list[LogDriver] = []
        self.entries: list[tuple[str, str, str, tuple[Any, ...], Selector]] = []


class RecordingStore:
    """A store that records the server's calls (its restore refuses)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def position(self) -> str | None:
        return None

    def stamp(self, packet: Any, selector: Selector) -> None:
        self.calls.append(("stamp", packet.event))

    def save_session(self, state: SessionState) -> None:
        self.calls.append(("save", (state.sid, state.rooms)))

    def persist(self, state: SessionState) -> None:
        self.calls.append(("persist", state.sid))

    async def restore(self, namespace: str, pid: str, offset: str | None) -> Restored | None:
        return None

    def discard(self, pid: str) -> None:
        self.calls.append(("discard", pid))

    def stats(self) -> RecoveryStats:
        return RecoveryStats()


class LogDriver(MessageDriver):
    """A logged driver over :class:`SharedLog` (the other operations go to every other node)."""

    def __init__(self, log: SharedLog) -> None:
        self.uid = hex_uid()
        self.log = log
        self.adapter: ClusterAdapter | None = None
        self.store = RecordingStore()
        import logging

        self.logger = logging.getLogger("test.logdriver")
        log.drivers.append(self)

    async def start(self, adapter: ClusterAdapter) -> None:
        self.adapter = adapter

    async def close(self) -> None:
        self.log.drivers.remove(self)

    async def open_namespace(self, namespace: str) -> None:
        return None

    def new_request_id(self) -> str:
        return hex_uid()

    async def server_count(self, namespace: str) -> int:
        return len(self.log.drivers)

    def room_created(self, namespace: str, room: str) -> None:
        return None

    def room_deleted(self, namespace: str, room: str) -> None:
        return None

    def _others(self) -> list[LogDriver]:
        return [d for d in self.log.drivers if d is not self and d.adapter is not None]

    def _publish(self, message: ClusterMessage, payload: bytes) -> None:
        for other in self._others():
            assert other.adapter is not None
            other.dispatch(other.adapter, decode_cluster(payload))

    def _respond(self, origin: str, namespace: str, payload: bytes) -> None:
        for other in self._others():
            if other.uid == origin:
                assert other.adapter is not None
                other.dispatch(other.adapter, decode_cluster(payload))

    async def broadcast_logged(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector
    ) -> str | None:
        await asyncio.sleep(0)  # the log answers asynchronously
        offset = f"{1_700_000_000_000 + len(self.log.entries)}-0"
        self.log.entries.append((offset, namespace, event, args, selector))
        given = None if selector.volatile else offset
        loop = asyncio.get_running_loop()
        for other in self._others():
            assert other.adapter is not None
            loop.call_soon(other.adapter.receive_broadcast, namespace, event, args, selector, given)
        return given

    def recovery_store(self, options: RecoveryOptions, delivery_window: float) -> Any:
        return self.store


def _manager(log: SharedLog) -> tuple[aiosio.AsyncManager, LogDriver]:
    driver = LogDriver(log)
    manager = aiosio.AsyncManager()
    manager.adapter = ClusterAdapter(driver)
    return manager, driver


def test_a_logged_driver_is_recognised() -> None:
    log = SharedLog()
    driver = LogDriver(log)
    assert isinstance(driver, LoggedDriver)
    adapter = ClusterAdapter(driver)
    assert adapter.recovery_store(RecoveryOptions(), 1.0) is driver.store


def test_recovery_on_a_logged_cluster_is_accepted_and_a_plain_one_refused() -> None:
    manager, driver = _manager(SharedLog())
    sio = aiosio.AsyncServer(client_manager=manager, connection_state_recovery=True)
    assert sio._recovery is driver.store and sio._recovery_logged
    with pytest.raises(ValueError, match="keeps a log"):
        aiosio.AsyncServer(
            client_manager=aiosio.AsyncRedisManager("redis://127.0.0.1:1/0"), connection_state_recovery=True
        )


async def test_a_logged_adapter_installed_later_keeps_recovery_on() -> None:
    sio = aiosio.AsyncServer(connection_state_recovery=True)
    manager, driver = _manager(SharedLog())
    sio._adapter = manager.adapter  # what --workers does
    sio.manager.adapter = manager.adapter
    await sio._start_adapter()
    assert sio._recovery is driver.store and sio._recovery_logged
    await sio.shutdown()


async def until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_every_broadcast_is_logged_and_carries_the_logs_offset_on_every_node(serve: Any) -> None:
    log = SharedLog()
    servers = []
    for _ in range(2):
        manager, _driver = _manager(log)
        sio = aiosio.AsyncServer(client_manager=manager, connection_state_recovery=True)
        servers.append((sio, await serve(sio)))
    clients = []
    got: list[list[tuple[Any, ...]]] = [[], []]
    for i, (_sio, handle) in enumerate(servers):
        client = aiosio.AsyncClient(strip_offsets=False)
        client.on("n", lambda *args, i=i: got[i].append(args))
        await client.connect(handle.url, transports=["websocket"])
        clients.append(client)
    a, b = servers[0][0], servers[1][0]
    sid_a = clients[0].get_sid()
    await a.emit("n", 1)  # everyone
    await a.emit("n", 2, to=sid_a)  # one local sid: logged too (Node's socket.emit with CSR)
    await a.emit("n", 3, volatile=True)  # logged for the other nodes, no offset
    await a.emit("n", 4, ignore_queue=True)  # this node only: not logged
    await a.emit("n", 5, to=[])  # nobody: not logged (the wire's [] would be everyone)
    await until(lambda: len(got[0]) == 4 and len(got[1]) == 2)
    offsets = [e[0] for e in log.entries]
    assert [e[2:4] for e in log.entries] == [("n", (1,)), ("n", (2,)), ("n", (3,))]
    assert got[0] == [(1, offsets[0]), (2, offsets[1]), (3,), (4,)]
    assert got[1] == [(1, offsets[0]), (3,)]
    # A remote join of a local socket: the server writes its session through.
    store = servers[0][0]._recovery
    assert isinstance(store, RecordingStore)
    assert ("save", (sid_a, (sid_a,))) in store.calls  # on connect
    await b.enter_room(sid_a, "r1")
    await until(lambda: ("save", (sid_a, (sid_a, "r1"))) in store.calls)
    # A namespace disconnect is not recoverable: the session is discarded.
    pid = a._sockets[sid_a].pid
    await clients[0].disconnect()
    await until(lambda: ("discard", pid) in store.calls)
    assert ("persist", sid_a) not in store.calls
    assert not any(c[0] == "stamp" and c[1] != "n" for c in store.calls)
    await clients[1].disconnect()
