"""The hub's recovery log alone (sans-IO, a fake clock), the recovery frames of the hub wire (bytes
in, values out), and the hub answering them on a real Unix socket (malformed frames, unknown pids)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest

from aiosio.recovery import RecoveryOptions, looks_like_offset
from aiosio.workers import hubwire
from aiosio.workers.hub import Hub
from aiosio.workers.hub_log import ChannelLog, HubSession
from aiosio.workers.hubwire import (
    HubWireError,
    Kind,
    LogRecord,
    RecoveryConfig,
    RestoreRequest,
    SessionRecord,
)

pytestmark = pytest.mark.timeout(20)

NOW = 1_800_000_000.0


def session(
    pid: str = "p1", owner: str = "A", rooms: tuple[str, ...] = ("s1", "r1"), **kw: Any
) -> HubSession:
    fields: dict[str, Any] = {"namespace": "/", "sid": "s1", "start": None, "data": b"\x80"}
    fields.update(kw)
    return HubSession(pid, fields["namespace"], fields["sid"], rooms, fields["start"], fields["data"], owner)


def log_of(**options: Any) -> ChannelLog:
    return ChannelLog(RecoveryOptions(**options), window=None)


def put(log: ChannelLog, message: bytes, rooms: tuple[str, ...] | None = ("r1",), **kw: Any) -> str:
    return log.append(
        kw.get("namespace", "/"),
        rooms,
        kw.get("exclude", ()),
        kw.get("sids", False),
        message,
        kw.get("now", NOW),
    )


# -- the log -------------------------------------------------------------------------------------


def test_offsets_are_stream_ids_that_grow_and_every_client_keeps() -> None:
    log = log_of()
    first, second = put(log, b"a"), put(log, b"b")
    third = put(log, b"c", now=NOW - 5)  # a clock stepping back keeps them growing
    assert (first, second, third) == ("1800000000000-0", "1800000000000-1", "1800000000000-2")
    assert all(looks_like_offset(o, NOW * 1000) for o in (first, second, third))
    assert log.position() == third


def test_restore_selects_by_rooms_except_and_sids_after_the_offset() -> None:
    log = log_of()
    log.save(session(), NOW)
    before = put(log, b"before")
    put(log, b"r1")
    put(log, b"other room", rooms=("r2",))
    put(log, b"everyone", rooms=None)
    put(log, b"r1 but s1 excluded", exclude=("s1",))
    put(log, b"to s1", rooms=("s1",), sids=True)
    put(log, b"to r1 as a sid", rooms=("r1",), sids=True)  # a sid named r1: not this socket
    put(log, b"other namespace", namespace="/x")
    found = log.restore("B", "/", "p1", before, NOW)
    assert found is not None
    assert [m for _, m in found.missed] == [b"r1", b"everyone", b"to s1"]
    offsets = [o for o, _ in found.missed]
    assert offsets == sorted(offsets) and all(o > before for o in offsets)


def test_no_offset_replays_from_the_sessions_start_never_before() -> None:
    log = log_of()
    put(log, b"old")
    start = log.position()
    log.save(session(start=start), NOW)
    put(log, b"new")
    found = log.restore("A", "/", "p1", None, NOW)
    assert found is not None and [m for _, m in found.missed] == [b"new"]
    log.save(session(start=start), NOW)
    old = log.restore("A", "/", "p1", "1700000000000-0", NOW)  # before the session: clamped
    assert old is not None and [m for _, m in old.missed] == [b"new"]


def test_refusals_unknown_pid_other_namespace_offset_never_given() -> None:
    log = log_of()
    log.save(session(), NOW)
    offset = put(log, b"x")
    assert log.restore("A", "/", "nobody", None, NOW) is None
    assert log.restore("A", "/x", "p1", None, NOW) is None
    assert log.restore("A", "/", "p1", "9999999999999-0", NOW) is None
    assert log.restore("A", "/", "p1", "not-an-offset", NOW) is None
    assert log.snapshot(NOW).refused == 4
    assert log.restore("A", "/", "p1", offset, NOW) is not None


def test_the_owner_rules_protect_a_restored_session_from_its_old_worker() -> None:
    log = log_of()
    log.save(session(rooms=("s1", "r1")), NOW)
    assert log.restore("B", "/", "p1", None, NOW) is not None  # B takes it over from A
    assert not log.save(session(rooms=("s1", "stale")), NOW)  # A's late write: ignored
    assert not log.lose(session(rooms=("s1", "stale")), NOW)
    assert not log.drop("A", "p1")
    assert log.save(session(owner="B", rooms=("s1", "r1", "r2")), NOW)
    again = log.restore("C", "/", "p1", None, NOW)
    assert again is not None and again.session.rooms == ("s1", "r1", "r2")
    assert log.drop("C", "p1")
    assert log.restore("C", "/", "p1", None, NOW) is None


def test_a_dead_workers_sessions_are_kept_then_expire() -> None:
    log = log_of(max_disconnection_duration=10)
    log.save(session("p1"), NOW)
    log.save(session("p2", owner="B", sid="s2"), NOW)
    assert log.owner_left("A", NOW + 100) == 1  # a live session does not expire while its worker lives
    found = log.restore("B", "/", "p1", None, NOW + 105)
    assert found is not None
    log.owner_left("B", NOW + 200)
    assert log.restore("A2", "/", "p2", None, NOW + 210) is None  # lost at +200, 10 s kept
    stats = log.snapshot(NOW + 210)
    assert stats.expired_sessions == 2 and stats.recovered == 1 and stats.refused == 1


def test_packet_bounds_evict_and_count_and_refuse_what_needs_an_evicted_packet() -> None:
    log = log_of(max_packets=10)
    log.save(session(), NOW)
    offset = put(log, b"0")
    for i in range(1, 26):
        put(log, str(i).encode())
    stats = log.snapshot(NOW)
    assert (stats.packets, stats.evicted_packets) == (10, 16)
    assert stats.bytes == sum(200 + len(str(i)) for i in range(16, 26))
    assert log.restore("A", "/", "p1", offset, NOW) is None
    by_bytes = log_of(max_bytes=1000)
    for _ in range(20):
        put(by_bytes, b"x" * 100)
    assert by_bytes.snapshot(NOW).bytes <= 1000 and by_bytes.snapshot(NOW).evicted_bytes > 0
    aged = log_of(max_disconnection_duration=5)
    put(aged, b"old")
    put(aged, b"new", now=NOW + 6)
    assert aged.snapshot(NOW + 6).expired_packets == 1


def test_session_bounds_count_and_bytes_lost_ones_first() -> None:
    log = log_of(max_sessions=3)
    log.save(session("live"), NOW)
    for i in range(4):
        log.lose(session(f"lost{i}", sid=f"s{i}"), NOW + i)
    stats = log.snapshot(NOW + 5)
    assert stats.sessions == 3 and stats.evicted_sessions == 2
    assert log.restore("B", "/", "live", None, NOW + 5) is not None  # the live one stayed
    assert log.restore("B", "/", "lost0", None, NOW + 5) is None
    small = log_of(max_bytes=1000)
    for i in range(10):
        small.lose(session(f"p{i}", data=b"d" * 200), NOW)
    assert small.snapshot(NOW).sessions == 2  # 2 * (200 + 200 + 4 + 2) <= 1000 < 3 * ...


def test_a_restore_too_large_for_one_answer_is_refused() -> None:
    log = log_of()
    log.save(session(), NOW)
    for _ in range(10):
        put(log, b"x" * 1000)
    assert log.restore("A", "/", "p1", None, NOW, max_bytes=5000) is None
    assert log.restore("A", "/", "p1", None, NOW, max_bytes=20000) is not None


# -- the wire ------------------------------------------------------------------------------------


def body(data: bytes) -> tuple[Kind, bytes]:
    assert hubwire.frame_length(data[:4]) == len(data) - 4
    return hubwire.split(data[4:])


def test_recovery_frames_round_trip() -> None:
    config = RecoveryConfig(120.0, 10, 1000, 5, 8.0)
    assert hubwire.parse_recovery(body(hubwire.recovery(config))[1]) == config
    record = LogRecord("/", ("r1", "s1"), ("x",), True, b"{msg}")
    kind, raw = body(hubwire.log(record))
    assert kind is Kind.LOG and hubwire.parse_log(raw) == record
    everyone = LogRecord("/", None, (), False, b"m")
    assert hubwire.parse_log(body(hubwire.log(everyone))[1]) == everyone
    assert hubwire.parse_offset_body(body(hubwire.offset("1-2"))[1]) == "1-2"
    assert hubwire.parse_offset_body(body(hubwire.offset(None))[1]) is None  # not logged
    assert hubwire.parse_logged(body(hubwire.logged("1-2", b"payload"))[1]) == ("1-2", b"payload")
    assert hubwire.parse_position(body(hubwire.position(None))[1]) is None
    assert hubwire.parse_position(body(hubwire.position("5-0"))[1]) == "5-0"
    saved = SessionRecord("p", "/", "s", ("s", "r"), "1-0", b"\xc0", lost=True)
    assert hubwire.parse_save(body(hubwire.save(saved))[1]) == saved
    assert hubwire.parse_drop(body(hubwire.drop("p"))[1]) == "p"
    request = RestoreRequest("/", "p", None)
    assert hubwire.parse_restore(body(hubwire.restore(request))[1]) == request
    fresh = SessionRecord("p", "/", "s", ("s",), None, b"\xc0")
    answer = (fresh, [("1-0", b"a"), ("1-1", b"b")])
    assert hubwire.parse_restored(body(hubwire.restored(answer))[1]) == answer
    assert hubwire.parse_restored(body(hubwire.restored(None))[1]) is None
    counters = {name: i for i, name in enumerate(hubwire.STATS_FIELDS)}
    assert hubwire.parse_stats(body(hubwire.stats(counters))[1]) == counters


def packed(*value: Any) -> bytes:
    return bytes(msgpack.packb(list(value), use_bin_type=True))


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (hubwire.parse_log, b"\xc1"),  # not msgpack
        (hubwire.parse_log, packed("/", None, [], False)),  # a field short
        (hubwire.parse_log, packed("/", "r1", [], False, b"m")),  # rooms not a list
        (hubwire.parse_log, packed("/", [1], [], False, b"m")),  # a room not a string
        (hubwire.parse_log, packed("/", None, [], 1, b"m")),  # sids not a boolean
        (hubwire.parse_log, packed("/", None, [], False, "text")),  # message not bytes
        (hubwire.parse_log, packed("/" * 300, None, [], False, b"m")),  # namespace too long
        (hubwire.parse_log, packed("/", ["r"] * 10_001, [], False, b"m")),  # too many rooms
        (hubwire.parse_save, packed("", "/", "s", [], None, b"", False)),  # empty pid
        (hubwire.parse_save, packed("p", "/", "s", [], None, b"", "no")),  # lost not a boolean
        (hubwire.parse_save, packed("p", "/", "s", [], 5, b"", False)),  # start not a string
        (hubwire.parse_restore, packed("/", "p")),
        (hubwire.parse_restore, packed("/", "p", 7)),
        (hubwire.parse_restored, packed(["p", "/", "s", [], None, b""], [["1-0"]])),
        (hubwire.parse_restored, packed(["p", "/", "s", [], None], [])),
        (hubwire.parse_recovery, packed(0, 1, 1, 1, None)),  # duration not positive
        (hubwire.parse_recovery, packed(1, 0, 1, 1, None)),
        (hubwire.parse_recovery, packed(1, 1.5, 1, 1, None)),
        (hubwire.parse_stats, packed(*([1] * 9))),
        (hubwire.parse_stats, packed(*([-1] * 10))),
        (hubwire.parse_logged, b"\x05abc"),  # truncated offset
        (hubwire.parse_logged, b""),
        (hubwire.parse_offset_body, "é".encode()),
        (hubwire.parse_drop, b"\xff"),
        (hubwire.parse_drop, b""),
    ],
)
def test_malformed_recovery_bodies_are_clear_errors(parse: Any, raw: bytes) -> None:
    with pytest.raises(HubWireError):
        parse(raw)


# -- the hub answering them ----------------------------------------------------------------------


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.first: tuple[Kind, bytes] = (Kind.COUNT, b"")

    async def frame(self, skip_counts: bool = True) -> tuple[Kind, bytes]:
        async with asyncio.timeout(5):
            while True:
                length = hubwire.frame_length(await self.reader.readexactly(4))
                kind, data = hubwire.split(await self.reader.readexactly(length))
                if not (skip_counts and kind is Kind.COUNT):
                    return kind, data

    async def closed(self) -> bool:
        """True once the hub closed the connection (what it sent before is skipped)."""
        async with asyncio.timeout(5):
            while await self.reader.read(65536):
                pass
        return self.reader.at_eof()


async def join(hub: Hub, uid: str) -> Peer:
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(hubwire.hello(uid, "server-0"))
    peer = Peer(reader, writer)
    peer.first = await peer.frame(skip_counts=False)  # POSITION (when the log exists) or COUNT
    return peer


async def test_the_hub_logs_relays_keeps_sessions_and_restores(hub: Hub) -> None:
    a = await join(hub, "a")
    b = await join(hub, "b")
    assert a.first[0] is Kind.COUNT  # no log yet: no POSITION
    a.writer.write(hubwire.recovery(RecoveryConfig(60, 100, 10_000, 10, None)))
    a.writer.write(hubwire.save(SessionRecord("p1", "/", "s1", ("s1", "r1"), None, b"\xc0")))
    a.writer.write(hubwire.log(LogRecord("/", ("r1",), (), False, b"m1")))
    kind, raw = await a.frame()
    assert kind is Kind.OFFSET
    offset = hubwire.parse_offset_body(raw)
    kind, raw = await b.frame()
    assert kind is Kind.LOGGED and hubwire.parse_logged(raw) == (offset, b"m1")
    c = await join(hub, "c")  # a late joiner learns where the log is
    kind, raw = c.first
    assert (kind, hubwire.parse_position(raw)) == (Kind.POSITION, offset)
    a.writer.close()  # worker a dies: its live session is kept as lost
    await asyncio.sleep(0.05)
    b.writer.write(hubwire.restore(RestoreRequest("/", "p1", None)))
    kind, raw = await b.frame()
    answer = hubwire.parse_restored(raw)
    assert kind is Kind.RESTORED and answer is not None
    assert answer[0].sid == "s1" and answer[1] == [(offset, b"m1")]
    b.writer.write(hubwire.restore(RestoreRequest("/", "unknown", None)))
    kind, raw = await b.frame()
    assert kind is Kind.RESTORED and hubwire.parse_restored(raw) is None
    b.writer.write(hubwire.stats_request())
    kind, raw = await b.frame()
    counters = hubwire.parse_stats(raw)
    assert counters["recovered"] == 1 and counters["refused"] == 1 and counters["packets"] == 1


@pytest.mark.parametrize(
    "garbage",
    [
        hubwire.frame(Kind.LOG, b"\xc1"),
        hubwire.frame(Kind.LOG, packed("/", None, [], False)),
        hubwire.frame(Kind.SAVE, packed("p")),
        hubwire.frame(Kind.RESTORE, b""),
        hubwire.frame(Kind.RECOVERY, packed("120", 1, 1, 1, None)),  # a duration not a number
        hubwire.frame(Kind.DROP, b""),
        hubwire.frame(Kind.OFFSET, b"1-0"),  # a hub -> worker kind
        struct.pack(">I", 2) + bytes((Kind.LOGGED, 0)),
    ],
)
async def test_a_malformed_recovery_frame_closes_that_connection_only(hub: Hub, garbage: bytes) -> None:
    bad = await join(hub, "bad")
    good = await join(hub, "good")
    bad.writer.write(garbage)
    assert await bad.closed()
    good.writer.write(hubwire.log(LogRecord("/", None, (), False, b"fine")))
    kind, raw = await good.frame()
    assert kind is Kind.OFFSET and hubwire.parse_offset_body(raw)


async def test_a_dead_workers_sessions_expire_from_its_death(tmp_path: Path) -> None:
    """A worker that leaves without a word (SIGKILL) leaves its live sessions: kept from that
    moment for max_disconnection_duration, then refused (a live session would never expire)."""
    now = [NOW]
    hub = Hub(str(tmp_path / "hub.sock"), clock=lambda: now[0])
    await hub.start()
    try:
        a = await join(hub, "a")
        b = await join(hub, "b")
        a.writer.write(hubwire.recovery(RecoveryConfig(10, 100, 10_000, 10, None)))
        for pid in ("p1", "p2"):
            a.writer.write(hubwire.save(SessionRecord(pid, "/", "s-" + pid, ("s1",), None, b"\xc0")))
        a.writer.write(hubwire.stats_request())
        await a.frame()
        a.writer.transport.abort()
        await asyncio.sleep(0.05)
        now[0] += 5
        b.writer.write(hubwire.restore(RestoreRequest("/", "p1", None)))
        kind, raw = await b.frame()
        assert kind is Kind.RESTORED and hubwire.parse_restored(raw) is not None
        now[0] += 6  # 11 s after the death
        b.writer.write(hubwire.restore(RestoreRequest("/", "p2", None)))
        kind, raw = await b.frame()
        assert kind is Kind.RESTORED and hubwire.parse_restored(raw) is None
        b.writer.write(hubwire.stats_request())
        counters = hubwire.parse_stats((await b.frame())[1])
        assert counters["expired_sessions"] == 1 and counters["recovered"] == 1
    finally:
        await hub.close()
