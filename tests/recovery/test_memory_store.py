"""The in-memory recovery store alone, on a fake clock: offsets, filtering, bounds, refusals."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from aiosio.adapters.base import EVERYONE, EventPacket, Selector
from aiosio.protocol.frames import Frame
from aiosio.recovery import MemoryStore, RecoveryOptions, SessionState, looks_like_offset
from aiosio.recovery.memory import ENTRY_OVERHEAD


def encode(namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None) -> list[Frame]:
    """A stand-in encoder: the event and its arguments as text."""
    return [Frame(repr((event, args)).encode())]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make(**options: Any) -> tuple[MemoryStore, Clock]:
    clock = Clock()
    return MemoryStore(RecoveryOptions(**options), clock), clock


def stamp(store: MemoryStore, event: str, *args: Any, selector: Selector = EVERYONE) -> str:
    packet = EventPacket("/", event, args, encode)
    store.stamp(packet, selector)
    assert packet.offset is not None
    return packet.offset


def names(missed: list[Any]) -> list[str]:
    """The event names of replayed packets."""
    return [ast.literal_eval(frames[0].payload.decode())[0] for frames in missed]


def session(start: str | None, rooms: tuple[str, ...] = ("s1", "r1")) -> SessionState:
    return SessionState("s1", "p1", "/", rooms, {"k": 1}, start)


async def test_offsets_grow_are_appended_last_and_look_like_offsets() -> None:
    store, clock = make()
    first = stamp(store, "e", 1)
    second = stamp(store, "e", 2)
    clock.now -= 5  # a clock stepping back keeps the offsets growing
    third = stamp(store, "e", 3)
    assert first == "1800000000000-0" and second == "1800000000000-1" and third == "1800000000000-2"
    assert all(looks_like_offset(o, 1_800_000_000_000) for o in (first, second, third))
    assert store._packets[0].body[0].payload == repr(("e", (1, first))).encode()


async def test_restore_filters_by_rooms_and_except_and_starts_after_the_offset() -> None:
    store, _ = make()
    start = stamp(store, "before")
    store.persist(session(start))
    got = stamp(store, "got")
    stamp(store, "all")
    stamp(store, "r1", selector=Selector(("r1",)))
    stamp(store, "r2", selector=Selector(("r2",)))
    stamp(store, "not-r1", selector=Selector(None, ("r1",)))
    stamp(store, "direct", selector=Selector(("s1",), sids=True))
    stamp(store, "other", selector=Selector(("s2",), sids=True))
    restored = await store.restore("/", "p1", got)
    assert restored is not None and restored.session.data == {"k": 1}
    assert names(restored.missed) == ["all", "r1", "direct"]
    # No offset: from the session's start (recovery when no event had been received).
    restored = await store.restore("/", "p1", None)
    assert restored is not None and names(restored.missed) == ["got", "all", "r1", "direct"]
    # An offset before the session's start never replays what came before the session.
    restored = await store.restore("/", "p1", "1-0")
    assert restored is not None and names(restored.missed) == ["got", "all", "r1", "direct"]


@pytest.mark.parametrize("offset", ["9999999999999-0", "plainstring", "", "Q8mn7XM"])
async def test_an_offset_this_store_never_gave_is_refused(offset: str) -> None:
    store, _ = make()
    store.persist(session(stamp(store, "e")))
    assert await store.restore("/", "p1", offset) is None
    assert store.stats().refused == 1


async def test_unknown_pid_and_other_namespace_are_refused() -> None:
    store, _ = make()
    store.persist(session(None))
    assert await store.restore("/", "nope", None) is None
    assert await store.restore("/admin", "p1", None) is None
    assert store.stats().refused == 2


async def test_count_bound_evicts_counts_and_refuses_what_it_cannot_replay() -> None:
    store, _ = make(max_packets=10)
    start = stamp(store, "e", -1)
    store.persist(session(start))
    offsets = [stamp(store, "e", i) for i in range(25)]
    stats = store.stats()
    assert stats.packets == 10 and stats.evicted_packets == 16
    assert await store.restore("/", "p1", offsets[3]) is None  # packets after it were evicted
    restored = await store.restore("/", "p1", offsets[14])  # the newest evicted: nothing after is missing
    assert restored is not None and len(restored.missed) == 10


async def test_byte_bound() -> None:
    probe, _ = make()
    stamp(probe, "e", "x" * 10, 0)
    size = probe.stats().bytes
    assert size > ENTRY_OVERHEAD
    store, _ = make(max_bytes=3 * size)
    for i in range(10):
        stamp(store, "e", "x" * 10, i)
    stats = store.stats()
    assert stats.bytes == 3 * size and stats.packets == 3
    assert stats.evicted_packets == 7 and stats.evicted_bytes > 0


async def test_age_bound_for_packets_and_sessions() -> None:
    store, clock = make(max_disconnection_duration=10)
    start = stamp(store, "old")
    store.persist(session(start))
    clock.now += 11
    stamp(store, "new")
    stats = store.stats()
    assert stats.packets == 1 and stats.expired_packets == 1
    assert await store.restore("/", "p1", start) is None
    assert store.stats().expired_sessions == 1 and store.stats().sessions == 0


async def test_session_bound() -> None:
    store, _ = make(max_sessions=2)
    for i in range(5):
        store.persist(SessionState(f"s{i}", f"p{i}", "/", (f"s{i}",), None, None))
    stats = store.stats()
    assert stats.sessions == 2 and stats.evicted_sessions == 3
    assert await store.restore("/", "p4", None) is not None
    assert await store.restore("/", "p0", None) is None


def test_options() -> None:
    assert RecoveryOptions.of(None) is None and RecoveryOptions.of(False) is None
    assert RecoveryOptions.of(True) == RecoveryOptions() == RecoveryOptions.of({})
    assert RecoveryOptions().max_disconnection_duration == 120 and RecoveryOptions().skip_middlewares
    with pytest.raises(TypeError, match="maxDisconnectionDuration"):
        RecoveryOptions.of({"maxDisconnectionDuration": 1})
    with pytest.raises(ValueError):
        RecoveryOptions.of({"max_packets": 0})


async def test_an_idle_client_recovers_though_other_packets_were_let_go_long_before() -> None:
    """The client's offset is old, but every packet let go since was sent long before its
    connection was lost (outside the delivery window): it cannot be one the client missed."""
    clock = Clock()
    store = MemoryStore(RecoveryOptions(max_packets=5), clock, delivery_window=10)
    offset = stamp(store, "mine", selector=Selector(("s1",), sids=True))
    for i in range(20):
        stamp(store, "others", i, selector=Selector(("r9",)))
    clock.now += 30
    store.persist(session(None))
    stamp(store, "missed", selector=Selector(("r1",)))
    restored = await store.restore("/", "p1", offset)
    assert restored is not None and names(restored.missed) == ["missed"]
    # Let go near the loss: it may have been in flight, so the restore is refused.
    store.persist(session(None))
    for i in range(5):
        stamp(store, "late", i)
    assert await store.restore("/", "p1", offset) is None
    # Without a window, any packet let go after the offset refuses.
    strict = MemoryStore(RecoveryOptions(max_packets=5), clock)
    offset = stamp(strict, "mine")
    for i in range(20):
        stamp(strict, "others", i, selector=Selector(("r9",)))
    clock.now += 30
    strict.persist(session(None))
    assert await strict.restore("/", "p1", offset) is None
