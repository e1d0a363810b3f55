"""Values beyond the limits of the hub's wire (names over 255 characters, more than 10,000 rooms,
answers larger than a frame, bounds the hub cannot carry) never cost a worker its hub connection
(which would stop the worker): a client's pid, offset or namespace, an app's room names, targets
and session data. They are refused or left out, each the exact way (docs/recovery.md, --workers).

Real hub on a Unix socket, real aiosio servers as its workers (the LocalDriver ``--workers``
installs), aiosio's client; a test fails on any error a server logged (tests/server_errors.py):
"lost the connection to the workers' hub" is one."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from csr_support import until

import aiosio
from aiosio.recovery import RecoveryOptions
from aiosio.recovery.store import SessionState
from aiosio.workers import hub as hub_module
from aiosio.workers import hubwire
from aiosio.workers.hub import Hub
from aiosio.workers.hub_log import ChannelLog, HubSession
from aiosio.workers.hub_store import HubStore
from aiosio.workers.hubwire import (
    HubLimitError,
    Kind,
    LogRecord,
    RecoveryConfig,
    RestoreRequest,
    SessionRecord,
)
from aiosio.workers.install import install_cluster
from recovery.cutter import Cutter

pytestmark = pytest.mark.timeout(60)

LONG = "x" * 300
NOW = 1_800_000_000.0


def worker(hub: Hub, lost: list[int], **options: Any) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(
        connection_state_recovery=options.pop("recovery", True), ping_interval=1, ping_timeout=1, **options
    )
    assert install_cluster([sio], hub_path=hub.path, on_lost=lambda: lost.append(1)) == 1
    return sio


def store_of(sio: aiosio.AsyncServer) -> HubStore:
    store = sio._recovery
    assert isinstance(store, HubStore)
    return store


# -- the wire ------------------------------------------------------------------------------------


def test_the_encoders_refuse_what_the_hub_would_not_take_before_sending_it() -> None:
    fine = SessionRecord("p", "/", "s", ("s",), None, b"\xc0")
    cases: list[Callable[[], bytes]] = [
        lambda: hubwire.restore(RestoreRequest("/", LONG, None)),
        lambda: hubwire.restore(RestoreRequest("/", "p", "1-" + "0" * 300)),
        lambda: hubwire.restore(RestoreRequest("/" + LONG, "p", None)),
        lambda: hubwire.save(SessionRecord("p", "/", "s", ("s", LONG), None, b"")),
        lambda: hubwire.save(SessionRecord("p", "/" + LONG, "s", ("s",), None, b"")),
        lambda: hubwire.save(SessionRecord("p", "/", "s", tuple(map(str, range(10_001))), None, b"")),
        lambda: hubwire.save(SessionRecord("p", "/", "s", ("\ud800",), None, b"")),  # not UTF-8
        lambda: hubwire.log(LogRecord("/", (LONG,), (), False, b"m")),
        lambda: hubwire.log(LogRecord("/", None, tuple(map(str, range(10_001))), False, b"m")),
        lambda: hubwire.frame(Kind.PUBLISH, bytes(hubwire.MAX_FRAME)),
        lambda: hubwire.log(LogRecord("/", None, (), False, bytes(hubwire.MAX_FRAME - 20))),  # LOGGED
    ]
    for case in cases:
        with pytest.raises(HubLimitError):
            case()
    assert hubwire.parse_save(hubwire.save(fine)[5:]) == fine


def packed(*value: Any) -> bytes:
    return bytes(msgpack.packb(list(value), use_bin_type=True))


async def frame_of(reader: asyncio.StreamReader) -> tuple[Kind, bytes]:
    async with asyncio.timeout(5):
        while True:
            length = hubwire.frame_length(await reader.readexactly(4))
            kind, body = hubwire.split(await reader.readexactly(length))
            if kind is not Kind.COUNT:
                return kind, body


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (hubwire.frame(Kind.LOG, packed("/", [LONG], [], False, b"m")), (Kind.OFFSET, None)),
        (hubwire.frame(Kind.LOG, packed("/", None, ["r"] * 10_001, False, b"m")), (Kind.OFFSET, None)),
        (
            hubwire.frame(Kind.LOG, packed("/", None, [], False, bytes(hubwire.MAX_FRAME - 20))),
            (Kind.OFFSET, None),
        ),
        (hubwire.frame(Kind.RESTORE, packed("/", LONG, None)), (Kind.RESTORED, None)),
        (hubwire.frame(Kind.RESTORE, packed("/", "p", "1-" + "0" * 300)), (Kind.RESTORED, None)),
        (hubwire.frame(Kind.RESTORE, packed("/" + LONG, "p", None)), (Kind.RESTORED, None)),
        (hubwire.frame(Kind.SAVE, packed("p", "/" + LONG, "s", [], None, b"", False)), None),
        (hubwire.frame(Kind.SAVE, packed(LONG, "/", "s", [], None, b"", False)), None),
        (hubwire.frame(Kind.DROP, LONG.encode()), None),
        (hubwire.frame(Kind.RECOVERY, packed(math.inf, 1, 1, 1, None)), None),
        (hubwire.frame(Kind.RECOVERY, packed(120, 0, 1, 1, None)), None),
        (hubwire.frame(Kind.RECOVERY, packed(120, 2**64 - 1, 1, 1, None)), None),  # RecoveryOptions'
    ],
)
async def test_the_hub_refuses_a_well_formed_frame_beyond_the_limits_and_keeps_the_connection(
    hub: Hub, sent: bytes, answer: tuple[Kind, None] | None
) -> None:
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(hubwire.hello("w", "server-0"))
    writer.write(sent)
    if answer is not None:
        kind, body = await frame_of(reader)
        parse = hubwire.parse_offset_body if kind is Kind.OFFSET else hubwire.parse_restored
        assert (kind, parse(body)) == answer
    writer.write(hubwire.log(LogRecord("/", None, (), False, b"fine")))  # the same connection
    kind, body = await frame_of(reader)
    assert kind is Kind.OFFSET and hubwire.parse_offset_body(body)
    assert hub.members("server-0") == 1
    writer.close()


async def test_a_save_beyond_the_limits_forgets_the_older_copy_of_the_session(hub: Hub) -> None:
    """A session that joined a room too long to be kept must not be restored as it was before
    (without that room: a silent gap): the hub forgets it."""
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(hubwire.hello("w", "server-0"))
    writer.write(hubwire.save(SessionRecord("p1", "/", "s1", ("s1",), None, b"\xc0")))
    writer.write(hubwire.frame(Kind.SAVE, packed("p1", "/", "s1", ["s1", LONG], None, b"\xc0", False)))
    writer.write(hubwire.restore(RestoreRequest("/", "p1", None)))
    kind, body = await frame_of(reader)
    assert kind is Kind.RESTORED and hubwire.parse_restored(body) is None
    writer.close()


# -- a client's values ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pid", "offset", "namespace"])
async def test_a_clients_pid_offset_or_namespace_beyond_the_limits_gets_a_fresh_session(
    hub: Hub, serve: Any, kind: str
) -> None:
    lost: list[int] = []
    sio = worker(hub, lost, namespaces="*")
    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    namespace = "/" + LONG if kind == "namespace" else "/"
    auth = {"pid": LONG} if kind == "pid" else {"pid": "p" * 20, "offset": "1-" + "0" * 300}
    if kind == "namespace":
        auth = {"pid": "p" * 20}
    await client.connect(
        handle.url, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=5
    )
    await until(lambda: sio.manager.is_connected(client.get_sid(namespace), namespace))
    assert not client.is_recovered(namespace)
    stats = await store_of(sio).fetch_stats()
    assert stats.refused == 1 and stats.recovered == 0
    await asyncio.sleep(0.2)  # the session write (nothing for the namespace: it cannot be kept)
    assert hub.members("server-0") == 1 and not lost
    await client.disconnect()


async def test_a_session_in_a_room_too_long_is_not_kept_and_the_worker_stays(hub: Hub, serve: Any) -> None:
    lost: list[int] = []
    sio = worker(hub, lost)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, LONG)

    handle = await serve(sio)
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(handle.url, transports=["websocket"])
    sid = client.get_sid()
    assert sid is not None
    await until(lambda: LONG in sio.rooms(sid))
    stats = await store_of(sio).fetch_stats()
    assert stats.sessions == 0 and stats.evicted_sessions >= 1  # dropped, counted by this worker
    assert hub.members("server-0") == 1 and not lost
    await client.disconnect()


# -- an app's broadcasts ---------------------------------------------------------------------------


async def test_broadcasts_beyond_the_limits_are_exact_or_raise_and_the_worker_stays(
    hub: Hub, serve: Any
) -> None:
    """To a room too long to be kept: logged without that room (no kept session is in it), so a
    session of another room it named still recovers it (here on the other worker); in a
    namespace too long: delivered without an offset (no session of it can be kept); to more
    than 10,000 rooms: ValueError, before anything is sent."""
    lost: list[int] = []
    a, b = worker(hub, lost, namespaces="*"), worker(hub, lost, namespaces="*")
    joined: list[tuple[str, bool]] = []
    for sio in (a, b):

        @sio.on("connect")
        async def connect(sid: str, environ: dict[str, Any], auth: Any, sio: Any = sio) -> None:
            if not sio.recovered(sid):
                await sio.enter_room(sid, "r1")
            joined.append((sid, sio.recovered(sid)))

    handle_a, handle_b = await serve(a), await serve(b)
    relay = Cutter(handle_a.port)
    await relay.start()
    far = aiosio.AsyncClient(strip_offsets=False)
    try:
        client = aiosio.AsyncClient(
            reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0
        )
        got: list[Any] = []
        client.on("n", got.append)
        await client.connect(relay.url, transports=["websocket"])
        far_got: list[tuple[Any, ...]] = []
        far.on("n", lambda *args: far_got.append(args), namespace="/" + LONG)
        await far.connect(handle_a.url, namespaces=["/" + LONG], transports=["websocket"])
        sid = client.get_sid()
        assert sid is not None
        await until(lambda: "r1" in a.rooms(sid))
        with pytest.raises(ValueError, match="10000"):
            await b.emit("n", "too many", to=[f"room{i}" for i in range(10_001)])
        await b.emit("n", "long namespace", namespace="/" + LONG)
        await until(lambda: far_got == [("long namespace",)])  # no offset
        relay.upstream_port = handle_b.port
        relay.cut()
        await until(lambda: not a.manager.is_connected(sid, "/"))
        await a.emit("n", "to both", to=[LONG, "r1"])
        await until(lambda: client.connected and (sid, True) in joined and got == ["to both"])
        assert client.recovered and got == ["to both"] and "too many" not in got
        assert hub.members("server-0") == 2 and not lost
        await client.disconnect()
    finally:
        await far.disconnect()
        await relay.close()


# -- answers larger than a frame -------------------------------------------------------------------


def test_a_restore_counts_the_session_against_the_answers_bound() -> None:
    log = ChannelLog(RecoveryOptions(), window=None)
    log.save(HubSession("p1", "/", "s1", ("s1",), None, b"d" * 5000, "A"), NOW)
    log.append("/", ("s1",), (), True, b"m" * 100, NOW)
    assert log.restore("B", "/", "p1", None, NOW, max_bytes=4000) is None  # the data alone is 5000
    found = log.restore("B", "/", "p1", None, NOW, max_bytes=6000)
    assert found is not None and [m for _, m in found.missed] == [b"m" * 100]


async def test_a_restore_answer_larger_than_a_frame_is_refused_and_the_session_stays(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubwire, "MAX_FRAME", 1024 * 1024)
    monkeypatch.setattr(hub_module, "MAX_RESTORE_BYTES", 10 * 1024 * 1024)  # the count lets it by
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(hubwire.hello("w", "server-0"))
    writer.write(hubwire.recovery(RecoveryConfig(60, 100, 10 * 1024 * 1024, 10, None)))
    writer.write(hubwire.save(SessionRecord("p1", "/", "s1", ("s1",), None, b"d" * 600_000, lost=True)))
    for _ in range(2):
        writer.write(hubwire.log(LogRecord("/", ("s1",), (), True, b"m" * 300_000)))
        assert (await frame_of(reader))[0] is Kind.OFFSET
    writer.write(hubwire.restore(RestoreRequest("/", "p1", None)))
    kind, body = await frame_of(reader)
    assert kind is Kind.RESTORED and hubwire.parse_restored(body) is None
    writer.write(hubwire.stats_request())
    counters = hubwire.parse_stats((await frame_of(reader))[1])
    assert counters["refused"] == 1 and counters["recovered"] == 0 and counters["sessions"] == 1
    writer.close()


async def test_a_session_of_33_mib_is_restored_on_another_worker(hub: Hub) -> None:
    """More than the cluster codec's default limit (32 MiB) but within a hub frame: the hub keeps
    it (max_bytes allows it), so the worker that restores it reads it too."""
    lost: list[int] = []
    options = {"max_bytes": 128 * 1024 * 1024}
    a, b = worker(hub, lost, recovery=options), worker(hub, lost, recovery=options)
    try:
        for sio in (a, b):
            assert await sio._start_adapter()
        blob = b"d" * (33 * 1024 * 1024)
        store_of(a).persist(SessionState("s1", "p1", "/", ("s1",), {"blob": blob}, None))
        assert (await store_of(a).fetch_stats()).sessions == 1  # the hub has it (answered after it)
        restored = await store_of(b).restore("/", "p1", None)
        assert restored is not None and restored.session.data == {"blob": blob}
        assert not lost
    finally:
        await a.shutdown()
        await b.shutdown()


# -- bounds the hub cannot carry --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"max_disconnection_duration": math.inf},
        {"max_disconnection_duration": 1e9},
        {"max_disconnection_duration": math.nan},
        {"max_disconnection_duration": True},
        {"max_packets": 1.5},
        {"max_bytes": 2**64},
        {"max_sessions": False},
    ],
)
def test_recovery_options_the_stores_cannot_carry_are_a_clear_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        RecoveryOptions(**options)
    with pytest.raises(ValueError):
        aiosio.AsyncServer(connection_state_recovery=options)


def test_recovery_options_at_the_bounds_are_accepted() -> None:
    options = RecoveryOptions(max_disconnection_duration=1e9 - 1, max_packets=2**63 - 1)
    assert options.max_disconnection_duration == 1e9 - 1
    assert RecoveryOptions(max_disconnection_duration=1).max_disconnection_duration == 1.0
