"""What the admin reports and what it costs the server (the cold review's findings 2, 4, 7, 8, 9,
12 and 15): sid rooms as Node reports them, every event received, admin traffic kept out of the
recovery log, a bounded event buffer, shutdown/uninstrument, and no ack bookkeeping nobody reads.

The admins are aiosio clients recording every event of ``/admin``; the servers run in-process on
random ports (the ``serve`` fixture).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from admin_support import Log, admin_client

import aiosio
from aiosio.admin import events as events_module
from aiosio.admin.events import MAX_ENTRIES, EventBuffer
from aiosio.admin.operations import Operations

pytestmark = pytest.mark.timeout(60)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds (fails the test after ``timeout``)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def of(log: Log, *names: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The logged events with one of these names, in order."""
    return [(event, args) for event, args in log if event in names]


async def test_own_sid_room_is_reported_in_nodes_order(serve: Any) -> None:
    """room_joined(nsp, sid, sid) comes just before socket_connected and room_left(nsp, sid, sid)
    just after socket_disconnected (Node's order: the UI drops the private room on the latter)."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=5)
    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log)
        user = aiosio.AsyncClient()
        await user.connect(handle.url, transports=["websocket"])
        sid = user.get_sid()
        await user.disconnect()
        await until(lambda: any(a[1] == sid for e, a in of(log, "room_left")))
        position = {"room_joined": 2, "socket_disconnected": 1, "room_left": 2}

        def about(event: str, args: tuple[Any, ...]) -> str:
            return str(args[0]["id"] if event == "socket_connected" else args[position[event]])

        mine = [
            (event, args[0]["id"] if event == "socket_connected" else args[:3])
            for event, args in of(log, "room_joined", "socket_connected", "socket_disconnected", "room_left")
            if about(event, args) == sid
        ]
        assert mine == [
            ("room_joined", ("/", sid, sid)),
            ("socket_connected", sid),
            ("socket_disconnected", ("/", sid, "client disconnect")),
            ("room_left", ("/", sid, sid)),
        ]
        await client.disconnect()
    finally:
        await admin.shutdown()


async def test_events_without_a_handler_are_reported(serve: Any) -> None:
    """event_received for an event the app has no handler for (Node's onAny), and for one it has."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=5)

    @sio.on("known")
    async def known(sid: str, *args: Any) -> None:
        pass

    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log)
        user = aiosio.AsyncClient()
        await user.connect(handle.url, transports=["websocket"])
        await user.emit("known", 1)
        await user.emit("nobody_listens", 2)
        await until(lambda: len(of(log, "event_received")) == 2)
        sid = user.get_sid()
        assert [args[:3] for _, args in of(log, "event_received")] == [
            ("/", sid, ["known", 1]),
            ("/", sid, ["nobody_listens", 2]),
        ]
        await user.disconnect()
        await client.disconnect()
    finally:
        await admin.shutdown()


async def test_admin_traffic_stays_out_of_the_recovery_log(serve: Any) -> None:
    """With connection-state recovery on, server_stats, config, session, all_sockets and the live
    admin events are never kept in the recovery log (the app's broadcasts still are)."""
    sio = aiosio.AsyncServer(connection_state_recovery={})
    admin = sio.instrument(auth={"username": "a", "password": "b"}, server_stats_interval=0.05)
    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log, auth={"username": "a", "password": "b"})
        users = []
        for _ in range(3):
            user = aiosio.AsyncClient()
            await user.connect(handle.url, transports=["websocket"])
            users.append(user)
        await sio.emit("news", "for the app")
        await until(lambda: len(of(log, "server_stats")) >= 5 and len(of(log, "socket_connected")) >= 3)
        (session_id,) = next(args for event, args in log if event == "session")
        entries = list(sio._recovery._log.entries)  # type: ignore[union-attr]
        assert [e.namespace for e in entries] == ["/"]
        assert session_id.encode() not in b"".join(f.payload for e in entries for f in e.body)
        for user in users:
            await user.disconnect()
        await client.disconnect()
    finally:
        await admin.shutdown()


def test_event_buffer_cap_holds_over_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of seconds without a report (no admin, or after shutdown): the buffer stays
    within MAX_ENTRIES and no count is lost (the overflow adds to its type's newest entry)."""
    real = time.time
    buffer = EventBuffer()
    for i in range(3000):
        monkeypatch.setattr(events_module.time, "time", lambda i=i: real() + i)
        buffer.push("rawConnection")
        buffer.push("rawDisconnection", "transport close")
    assert len(buffer) <= MAX_ENTRIES
    entries = buffer.take()
    assert sum(e["count"] for e in entries if e["type"] == "rawConnection") == 3000
    assert sum(e["count"] for e in entries if e["type"] == "rawDisconnection") == 3000
    assert len(buffer) == 0


async def test_shutdown_and_uninstrument(serve: Any) -> None:
    """shutdown() stops the reports and takes the observer off (nothing is counted after it);
    instrument() starts again; uninstrument() takes the observer off, server_stats go on."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=0.05)
    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log)
        await until(lambda: len(of(log, "server_stats")) >= 2)
        await admin.shutdown()
        assert admin.observer not in sio.observers and len(sio.observers) == 0
        count = len(of(log, "server_stats"))
        other = aiosio.AsyncClient()
        await other.connect(handle.url, transports=["websocket"])
        await asyncio.sleep(0.3)
        assert len(of(log, "server_stats")) == count
        assert not [a for _, a in of(log, "socket_connected") if a[0]["id"] == other.get_sid()]
        assert len(admin.event_buffer) == 0  # not fed after shutdown

        admin.instrument()
        assert admin.observer in sio.observers
        await until(lambda: len(of(log, "server_stats")) >= count + 2)

        admin.uninstrument()
        assert admin.observer not in sio.observers
        await other.disconnect()
        now = len(of(log, "server_stats"))
        await until(lambda: len(of(log, "server_stats")) >= now + 2)  # the reports go on
        assert not of(log, "socket_disconnected") and not of(log, "room_left")  # no longer observed
        await client.disconnect()
    finally:
        await admin.shutdown()


async def test_server_shutdown_stops_server_stats_at_once(serve: Any) -> None:
    """The server's own shutdown ends the server_stats timer when it closes the connections,
    not one interval later."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=30)
    try:
        handle = await serve(sio)
        client = await admin_client(handle.url, [])
        assert admin._stats.running
        await sio.shutdown()
        await until(lambda: not admin._stats.running, timeout=2)
        await client.disconnect()
    finally:
        await admin.shutdown()


async def test_no_ack_bookkeeping_without_an_ack_listener(serve: Any) -> None:
    """Production mode listens to no ack hook: an emit with a callback records no send time."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, mode="production", server_stats_interval=5)
    try:
        handle = await serve(sio)
        user = aiosio.AsyncClient()
        user.on("question", lambda: "answer")
        await user.connect(handle.url, transports=["websocket"])
        answers: list[Any] = []
        await sio.emit("question", to=user.get_sid(), callback=lambda *a: answers.append(a))
        await until(lambda: answers == [("answer",)])
        assert sio._sockets[user.get_sid()].ack_sent is None
        await user.disconnect()
    finally:
        await admin.shutdown()


async def test_operations_never_emit_to_the_admin_namespace(serve: Any) -> None:
    """An admin's ``emit`` to the admin namespace itself (a forged server_stats) is refused."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=30)
    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log)
        ops = Operations(sio, {"an-admin"}, "/admin")
        await ops.emit("an-admin", "/admin", None, "server_stats", {"serverId": "forged"})
        await ops.emit("an-admin", "/", None, "hello")  # the same operation elsewhere works
        await asyncio.sleep(0.3)
        assert not [args for _, args in of(log, "server_stats") if args[0]["serverId"] == "forged"]
        await client.disconnect()
    finally:
        await admin.shutdown()


async def test_event_sent_is_capped_per_emit(serve: Any) -> None:
    """A broadcast to 60 sockets is reported for 50 of them (the live view's first 50), with an
    exclusion too; an emit to a room of 2 for both."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=30)
    try:
        handle = await serve(sio)
        users = []
        for _ in range(60):
            user = aiosio.AsyncClient()
            await user.connect(handle.url, transports=["websocket"])
            users.append(user)
        log: Log = []
        client = await admin_client(handle.url, log)
        await until(lambda: bool(of(log, "all_sockets")))
        await sio.enter_room(users[0].get_sid(), "pair")
        await sio.enter_room(users[1].get_sid(), "pair")
        await sio.emit("to-all", 1)
        await sio.emit("to-all-but-one", 2, skip_sid=users[0].get_sid())
        await sio.emit("to-pair", 3, to="pair")

        def sent(event: str) -> list[str]:
            return [args[1] for _, args in of(log, "event_sent") if args[2][0] == event]

        await until(lambda: len(sent("to-pair")) == 2)
        assert len(sent("to-all")) == 50 and len(set(sent("to-all"))) == 50
        assert len(sent("to-all-but-one")) == 50 and users[0].get_sid() not in sent("to-all-but-one")
        assert sorted(sent("to-pair")) == sorted([users[0].get_sid(), users[1].get_sid()])
        await client.disconnect()
        for user in users:
            await user.disconnect()
    finally:
        await admin.shutdown()


async def test_a_saved_session_is_reported(serve: Any) -> None:
    """save_session (and ``async with sio.session``) sends socket_updated({id, nsp, data}), as
    Node's admin-ui does when socket.data changes; the UI merges it into the socket's record."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False, server_stats_interval=30)

    @sio.on("login")
    async def login(sid: str, name: str) -> None:
        await sio.save_session(sid, {"user": name})
        async with sio.session(sid) as session:
            session["role"] = "viewer"

    try:
        handle = await serve(sio)
        log: Log = []
        client = await admin_client(handle.url, log)
        user = aiosio.AsyncClient()
        await user.connect(handle.url, transports=["websocket"])
        await user.emit("login", "ann")
        await until(lambda: len([a for _, a in of(log, "socket_updated") if "data" in a[0]]) == 2)
        updates = [a[0] for _, a in of(log, "socket_updated") if "data" in a[0]]
        sid = user.get_sid()
        assert updates == [
            {"id": sid, "nsp": "/", "data": {"user": "ann"}},
            {"id": sid, "nsp": "/", "data": {"user": "ann", "role": "viewer"}},
        ]
        await user.disconnect()
        await client.disconnect()
    finally:
        await admin.shutdown()
