"""Review fixes of the Redis Streams recovery store: the restore's read of a session is ordered
after this node's queued session writes, a session not taken up is written back, concurrent
restores share the pool without failing, room changes of many sockets do not flood the queue,
and more (one test per finding, each failing without its fix)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

import aiosio
from aiosio.adapters.redis.streams import StreamsDriver
from aiosio.recovery.redis_streams import RedisStreamsStore
from aiosio.recovery.store import SessionState

from .conftest import Names

pytestmark = pytest.mark.timeout(60)

SID = "S" * 20
PID = "P" * 20
URLS: dict[int, str] = {}


async def node(
    serve: Any, url: str, names: Names, **recovery: Any
) -> tuple[aiosio.AsyncServer, StreamsDriver, RedisStreamsStore]:
    sio = aiosio.AsyncServer(client_manager=names.manager(url), connection_state_recovery=recovery or True)
    handle = await serve(sio)
    URLS[id(sio)] = handle.url
    driver = sio.manager.adapter.driver  # type: ignore[attr-defined]
    assert isinstance(driver, StreamsDriver)
    async with asyncio.timeout(5):
        while names.stream not in driver.read_position:
            await asyncio.sleep(0.01)
    store = sio._recovery
    assert isinstance(store, RedisStreamsStore)
    return sio, driver, store


async def test_a_restore_reads_the_session_after_this_nodes_queued_writes(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """A backlog of writes in the queue, then the socket's last room change and its persist: the
    restore sees that last state, and no queued SET re-creates the key after its GET/DEL."""
    _sio, driver, store = await node(serve, redis_server.url, names)
    start = store.position()
    store.save_session(SessionState(SID, PID, "/", (SID,), {"v": 1}, start))
    await asyncio.sleep(0.2)
    for _ in range(3000):  # a busy node: broadcasts of another namespace queued
        driver.link.command(
            "XADD", names.stream, "MAXLEN", "~", 10_000, "*", "uid", driver.uid, "nsp", "/x", "type", "3",
            "data", "{}" + "x" * 300,
        )  # fmt: skip
    last = SessionState(SID, PID, "/", (SID, "r2"), {"v": 2}, start)
    store.save_session(last)
    store.persist(last)
    restored = await store.restore("/", PID, None)
    assert restored is not None
    assert restored.session.rooms == (SID, "r2") and restored.session.data == {"v": 2}
    store.discard(PID)  # taken up (as the server does, in the same step)
    await asyncio.sleep(0.5)
    assert redis_server.client().get(names.sessions + PID) is None


def stored(redis_server: Any, names: Names) -> bytes | None:
    value: bytes | None = redis_server.client().get(names.sessions + PID)
    return value


async def test_a_restore_the_server_does_not_take_up_puts_the_session_back(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """The store hands a session over, and the server never takes it up (the connection closed
    meanwhile, its sid in use): the session is back in Redis at the end of the step, and the
    restore counts as refused, not recovered."""
    _sio, _driver, store = await node(serve, redis_server.url, names)
    store.persist(SessionState(SID, PID, "/", (SID, "r1"), {"v": 1}, store.position()))
    restored = await store.restore("/", PID, None)
    assert restored is not None and restored.session.rooms == (SID, "r1")
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    stats = store.stats()
    assert stats.recovered == 0 and stats.refused == 1
    again = await store.restore("/", PID, None)  # the client's next attempt recovers
    assert again is not None and again.session.data == {"v": 1}
    store.discard(PID)  # taken up
    await asyncio.sleep(0.2)
    assert stored(redis_server, names) is None
    assert store.stats().recovered == 1


async def test_a_client_that_leaves_during_its_restore_can_still_recover(
    serve: Any, redis_server: Any, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the server: the client's connection closes while the store restores (slowed down
    here); its session stays in Redis for the next attempt, and the restore counts as refused."""
    sio, _driver, store = await node(serve, redis_server.url, names)
    store.persist(SessionState(SID, PID, "/", (SID, "r1"), {"v": 1}, store.position()))
    original = RedisStreamsStore.restore

    async def slow_restore(self: RedisStreamsStore, namespace: str, pid: str, offset: str | None) -> Any:
        result = await original(self, namespace, pid, offset)
        await asyncio.sleep(0.3)
        return result

    monkeypatch.setattr(RedisStreamsStore, "restore", slow_restore)
    url = URLS[id(sio)]
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        opened = await ws.receive_str()
        assert opened.startswith("0")
        await ws.send_str('40{"pid":"' + PID + '"}')
        await asyncio.sleep(0.05)
        await ws.close()
    await asyncio.sleep(0.5)
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    assert store.stats().refused == 1 and store.stats().recovered == 0


async def test_a_restore_refused_for_a_passing_reason_puts_the_session_back(
    serve: Any, redis_server: Any, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This node's reader has not reached the client's offset in time: refused, and the session
    is written back (the next attempt, once the reader caught up, recovers)."""
    from aiosio.recovery import redis_streams

    from .test_streams_store import Lagging, xadd

    monkeypatch.setattr(redis_streams, "CATCH_UP_TIMEOUT", 0.3)
    _sio, driver, store = await node(serve, redis_server.url, names)
    store.persist(SessionState(SID, PID, "/", (SID, "r1"), {"v": 1}, store.position()))
    lagging = driver.read_position = Lagging(driver.read_position)
    offset = xadd(redis_server, names, "n", 1, rooms=("r1",))  # given out by another node
    assert await store.restore("/", PID, offset) is None
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    lagging.release()
    driver._wake_readers(names.stream)
    again = await store.restore("/", PID, offset)
    assert again is not None and again.session.data == {"v": 1}


async def test_a_reconnect_storm_of_400_restores_all_recover(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """400 sessions of a node that died come back at once (while this node emits): every restore
    succeeds (redis-py's pool of 100 connections fails rather than waits when exhausted)."""
    from aiosio.protocol.cluster import WireSession, encode_session, stream_id_key

    from .test_streams_store import xadd

    sio, driver, store = await node(serve, redis_server.url, names)
    first = xadd(redis_server, names, "n", 0)
    client = redis_server.client()
    for i in range(400):
        session = WireSession(f"sid{i:017d}", f"pid{i:017d}", (f"sid{i:017d}",), {}, None)
        client.set(names.sessions + f"pid{i:017d}", encode_session(session), px=60_000)
    last = [xadd(redis_server, names, "n", i) for i in range(50)][-1]
    async with asyncio.timeout(5):
        while driver.read_position[names.stream] < stream_id_key(last):
            await asyncio.sleep(0.01)
    errors: list[str] = []

    async def emits() -> None:
        for i in range(200):
            try:
                await sio.emit("x", i)
            except Exception as exc:
                errors.append(repr(exc))

    emitting = asyncio.ensure_future(emits())
    results = await asyncio.gather(*(store.restore("/", f"pid{i:017d}", first) for i in range(400)))
    await emitting
    assert sum(1 for r in results if r is not None) == 400
    assert errors == []
    assert all(len(r.missed) >= 50 for r in results if r is not None)  # and the emits so far


async def test_a_room_change_of_many_sockets_does_not_flood_the_write_queue(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """10,500 sessions change in one step (a socketsJoin for everyone on a big node) while an emit's
    XADD is queued: the emit succeeds, every session is written once, none is dropped."""
    sio, driver, store = await node(serve, redis_server.url, names)

    async def emit() -> str:
        try:
            await sio.emit("n", 1)
        except Exception as exc:
            return repr(exc)
        return "ok"

    task = asyncio.ensure_future(emit())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    count = 10_500
    for i in range(count):  # what the adapter's room change does for 10,500 local sockets
        store.save_session(SessionState(f"{i:020d}", f"p{i:019d}", "/", (f"{i:020d}", "news"), None, None))
    assert await task == "ok"
    client = redis_server.client()
    async with asyncio.timeout(20):
        while len(client.keys(names.sessions + "*")) < count:
            await asyncio.sleep(0.1)
    assert driver.link.stats.dropped == 0
    assert store.stats().evicted_sessions == 0


async def test_the_refresh_rewrites_a_session_missing_from_redis(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """The refresh only extends the expiry of a live session (PEXPIRE); one that went missing (a
    Redis flush) is written again."""
    _sio, _driver, store = await node(serve, redis_server.url, names, max_disconnection_duration=0.4)
    store.save_session(SessionState(SID, PID, "/", (SID,), {"v": 1}, store.position()))
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    redis_server.client().delete(names.sessions + PID)
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    assert 0 < redis_server.client().pttl(names.sessions + PID) <= 400


def stored_session(redis_server: Any, names: Names) -> Any:
    from aiosio.protocol.cluster import decode_session

    keys = redis_server.client().keys(names.sessions + "*")
    if len(keys) != 1:
        return None
    raw = redis_server.client().get(keys[0])
    return None if raw is None else decode_session(raw)


async def test_room_changes_through_the_manager_are_written_through(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """Joins and leaves that bypass the server's enter_room/leave_room (the manager's basic_*,
    its close_room) reach Redis too; data changed in place in get_session's new dict is written
    with the next change."""
    sio, _driver, _store = await node(serve, redis_server.url, names)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(URLS[id(sio)], transports=["websocket"])
    sid = client.get_sid()
    assert sid is not None

    async def until_stored(check: Any) -> None:
        async with asyncio.timeout(5):
            while True:
                session = stored_session(redis_server, names)
                if session is not None and check(session):
                    return
                await asyncio.sleep(0.02)

    await until_stored(lambda s: list(s.rooms) == [sid])
    sio.manager.basic_enter_room(sid, "/", "r9")
    await until_stored(lambda s: "r9" in s.rooms)
    data = await sio.get_session(sid)
    data["k"] = 1  # in place, no save_session
    await sio.manager.close_room("r9", "/")
    await until_stored(lambda s: "r9" not in s.rooms)
    assert stored_session(redis_server, names).data == {"k": 1}
    await client.disconnect()


@pytest.mark.parametrize("redis_6", [False, True])
async def test_a_trimmed_session_start_is_refused_without_entries_added(
    serve: Any, redis_server: Any, names: Names, monkeypatch: pytest.MonkeyPatch, redis_6: bool
) -> None:
    """A session start trimmed out of the stream is refused on Redis 7 and on Redis 5/6, whose
    XINFO STREAM has no entries-added (its reply shape made here by dropping the Redis 7 fields);
    a start still in the stream passes."""
    _sio, driver, store = await node(serve, redis_server.url, names)
    client = redis_server.client()
    fields = {"uid": "x", "nsp": "/x", "type": "3", "data": "{}"}
    start = client.xadd(names.stream, fields).decode()
    if redis_6:
        call = driver.link.call

        async def redis_6_call(*args: Any) -> Any:
            reply = await call(*args)
            if args[:2] == ("XINFO", "STREAM"):
                absent = (b"entries-added", b"max-deleted-entry-id", b"recorded-first-entry-id")
                reply = {k: v for k, v in reply.items() if k not in absent}
            return reply

        monkeypatch.setattr(driver.link, "call", redis_6_call)
    kept = client.xadd(names.stream, fields).decode()
    assert await store._kept_since(names.stream, start)
    for _ in range(300):
        client.xadd(names.stream, fields, maxlen=10, approximate=False)
    assert not await store._kept_since(names.stream, start)
    assert not await store._kept_since(names.stream, kept)
    newest = client.xrevrange(names.stream, count=1)[0][0].decode()
    assert await store._kept_since(names.stream, newest)


async def test_live_sessions_are_written_again_after_a_redis_restart(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """Redis restarts empty: the live sessions are written again as soon as the link is back, not
    at the next refresh (every half max_disconnection_duration: a minute here)."""
    sio, _driver, _store = await node(serve, redis_server.url, names)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(URLS[id(sio)], transports=["websocket"])
    async with asyncio.timeout(5):
        while stored_session(redis_server, names) is None:
            await asyncio.sleep(0.02)
    await redis_server.restart_async()
    assert not redis_server.client().keys(names.sessions + "*")
    async with asyncio.timeout(15):
        while stored_session(redis_server, names) is None:
            await asyncio.sleep(0.05)
    await client.disconnect()


async def test_a_dynamic_namespace_gets_entries_read_while_it_subscribes(
    serve: Any, redis_server: Any, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket of a namespace this node had none of is there before the namespace's SUBSCRIBE
    round trip ends (slowed down here): an entry read meanwhile reaches it."""
    from aiosio.protocol.cluster import ClusterBroadcast, WireOpts, WirePacket, encode_entry

    sio = aiosio.AsyncServer(client_manager=names.manager(redis_server.url), namespaces="*")
    handle = await serve(sio)
    driver = sio.manager.adapter.driver  # type: ignore[attr-defined]
    subscribe = driver.link.subscribe

    async def slow_subscribe(*channels: str) -> None:
        await asyncio.sleep(0.5)
        await subscribe(*channels)

    monkeypatch.setattr(driver.link, "subscribe", slow_subscribe)
    client = aiosio.AsyncClient(reconnection=False)
    got: list[Any] = []
    client.on("n", lambda *args: got.append(args[0]), namespace="/dyn")
    await client.connect(handle.url, namespaces=["/dyn"], transports=["websocket"])
    assert "/dyn" not in driver._opened  # still subscribing
    message = ClusterBroadcast("0123456789abcdef", "/dyn", WirePacket("/dyn", ["n", 1]), WireOpts((), (), {}))
    redis_server.client().xadd(names.stream, dict(encode_entry(message)))
    async with asyncio.timeout(5):
        while got != [1]:
            await asyncio.sleep(0.02)
    await client.disconnect()


async def test_the_old_sockets_disconnect_handler_does_not_touch_the_restored_one(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """The client comes back on the same node before the node noticed its old connection died:
    the old socket's disconnect handler, leaving a room by sid, acts on the old socket, not on the
    restored socket of the same sid."""
    from recovery.support import fast_client, until

    from .conftest import HalfCutter
    from .test_csr_nodes import start_nodes

    (a,) = await start_nodes(serve, redis_server.url, names, count=1)
    handled: list[str] = []

    async def disconnect(sid: str, *args: Any) -> None:
        await asyncio.sleep(0.2)
        await a.sio.leave_room(sid, "r1")
        handled.append(sid)

    a.sio.on("disconnect", disconnect)
    relay = HalfCutter(a.port)
    await relay.start()
    try:
        client = fast_client()
        await client.connect(relay.url, transports=["websocket"])
        sid = client.get_sid()
        assert sid is not None
        await until(lambda: a.sio.rooms(sid) == [sid, "r1"])
        relay.cut_client_side()
        await until(lambda: client.connected and len(a.connects) == 2 and handled == [sid])
        await asyncio.sleep(0.3)
        assert a.connects[1] == (sid, True)
        assert a.sio.rooms(sid) == [sid, "r1"]
        await client.disconnect()
    finally:
        await relay.close()


async def test_a_lost_connection_does_not_write_over_a_session_restored_elsewhere(
    serve: Any, redis_server: Any, names: Names
) -> None:
    """The old node notices its connection is lost after another node restored the session and
    wrote its own value: the old node's write is a compare-and-set, it leaves the other's value;
    a key that is gone is written (the session is kept for the client)."""
    _sio, _driver, store = await node(serve, redis_server.url, names)
    mine = SessionState(SID, PID, "/", (SID, "old"), {"v": 1}, store.position())
    store.save_session(mine)
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
    client = redis_server.client()
    client.set(names.sessions + PID, b"restored-elsewhere", px=60_000)
    store.persist(mine)
    await asyncio.sleep(0.3)
    assert stored(redis_server, names) == b"restored-elsewhere"
    store.save_session(mine)
    await asyncio.sleep(0.3)
    client.delete(names.sessions + PID)
    store.persist(mine)
    async with asyncio.timeout(5):
        while stored(redis_server, names) is None:
            await asyncio.sleep(0.01)
