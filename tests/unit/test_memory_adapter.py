"""The in-memory adapter on its own: room membership both ways, what leaving and removing clean up,
and member selection. No server, no sockets: members are recorders. (Mutation testing found rooms,
leave, close_room and remove unguarded.) Broadcast delivery, volatile or not, is tested through the
server: tests/robustness/test_guarantees_volatile.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiosio.adapters.memory import MemoryAdapter

NS = "/"


class Recorder:
    """A member that records what it is handed; ``writable`` decides volatile delivery."""

    def __init__(self, sid: str, writable: bool = True) -> None:
        self.sid = sid
        self.writable = writable
        self.gone = False
        self.got: list[tuple[str, ...]] = []

    def deliver(self, frames: Sequence[Any]) -> None:
        self.got.append(("normal", *(f.payload.decode() for f in frames)))

    def deliver_volatile(self, frames: Sequence[Any]) -> bool:
        if self.writable:
            self.got.append(("volatile", *(f.payload.decode() for f in frames)))
        return self.writable

    # A broadcast's adapter counts the traffic itself; to a recorder it is the same delivery.
    fan_out = deliver
    fan_out_volatile = deliver_volatile


def adapter_with(*sids: str, namespace: str = NS) -> tuple[MemoryAdapter, dict[str, Recorder]]:
    adapter = MemoryAdapter()
    members = {sid: Recorder(sid) for sid in sids}
    for member in members.values():
        adapter.add(namespace, member)
    return adapter, members


def sids(members) -> list[str]:
    return [m.sid for m in members]


def test_rooms_are_indexed_both_ways():
    adapter, _ = adapter_with("a", "b")
    adapter.join(NS, "a", "r2")
    adapter.join(NS, "a", "r1")
    adapter.join(NS, "b", "r1")
    assert adapter.rooms(NS, "a") == ["a", "r1", "r2"]  # its sid room first, then sorted
    assert adapter.rooms(NS, "b") == ["b", "r1"]
    assert adapter.room_members(NS, "r1") == ["a", "b"]
    assert adapter.room_members(NS, "a") == ["a"]  # a sid room
    assert sorted(adapter.room_names(NS)) == ["r1", "r2"]
    assert adapter.is_sid_room(NS, "a") and not adapter.is_sid_room(NS, "r1")
    assert adapter.rooms(NS, "unknown") == [] and adapter.rooms("/other", "a") == []


def test_joining_is_idempotent_and_unknown_sids_are_ignored():
    adapter, _ = adapter_with("a")
    adapter.join(NS, "a", "r")
    adapter.join(NS, "a", "r")
    adapter.join(NS, "ghost", "r")
    adapter.join(NS, "a", "a")  # its own sid room: nothing to do
    adapter.join("/other", "a", "r")
    assert adapter.room_members(NS, "r") == ["a"]
    assert adapter.rooms(NS, "a") == ["a", "r"]


def test_leaving_cleans_up_both_indexes():
    adapter, _ = adapter_with("a", "b")
    adapter.join(NS, "a", "r")
    adapter.join(NS, "b", "r")
    adapter.join(NS, "a", "s")
    adapter.leave(NS, "a", "r")
    assert adapter.room_members(NS, "r") == ["b"]
    assert adapter.rooms(NS, "a") == ["a", "s"]
    adapter.leave(NS, "a", "s")  # its last named room
    assert adapter.rooms(NS, "a") == ["a"]
    assert "s" not in adapter.room_names(NS), "an empty room stays behind"
    assert "a" not in adapter._namespaces[NS].sids_rooms
    adapter.leave(NS, "b", "r")
    assert adapter.room_names(NS) == []
    # Leaving what one is not in, or an unknown room or namespace, changes nothing.
    adapter.join(NS, "b", "t")
    for args in ((NS, "a", "t"), (NS, "a", "nope"), ("/other", "b", "t"), (NS, "b", "b")):
        adapter.leave(*args)
    assert adapter.room_members(NS, "t") == ["b"]
    assert adapter.rooms(NS, "b") == ["b", "t"]


def test_close_room_takes_everyone_out_of_that_room_only():
    adapter, _ = adapter_with("a", "b", "c")
    for sid in ("a", "b"):
        adapter.join(NS, sid, "r")
    adapter.join(NS, "a", "keep")
    adapter.close_room(NS, "r")
    assert adapter.room_members(NS, "r") == []
    assert "r" not in adapter.room_names(NS)
    assert adapter.rooms(NS, "a") == ["a", "keep"]
    assert adapter.rooms(NS, "b") == ["b"]
    adapter.close_room(NS, "nope")
    adapter.close_room("/other", "r")
    assert adapter.room_members(NS, "keep") == ["a"]


def test_remove_forgets_the_socket_everywhere_and_prunes_empty_namespaces():
    adapter, _ = adapter_with("a", "b")
    adapter.join(NS, "a", "r")
    adapter.join(NS, "b", "r")
    adapter.join(NS, "a", "only-a")
    adapter.remove(NS, "a")
    assert adapter.room_members(NS, "r") == ["b"]
    assert "only-a" not in adapter.room_names(NS)
    assert adapter.rooms(NS, "a") == []
    assert sids(adapter.members(NS, None, None)) == ["b"]
    adapter.remove(NS, "a")  # twice: nothing
    adapter.remove("/other", "a")
    adapter.remove(NS, "b")
    assert NS not in adapter.namespace_names(), "an empty namespace stays behind"
    adapter.add(NS, Recorder("c"))
    assert sids(adapter.members(NS, None, None)) == ["c"]


def test_namespace_is_kept_while_it_has_sockets():
    adapter, _ = adapter_with("a", "b")  # no named rooms at all
    adapter.remove(NS, "a")
    assert NS in adapter.namespace_names()
    assert sids(adapter.members(NS, None, None)) == ["b"]
    adapter.join(NS, "b", "r")
    assert adapter.room_members(NS, "r") == ["b"]


def test_unknown_namespace_is_empty_everywhere():
    adapter, _ = adapter_with("a")
    assert adapter.room_members("/other", "r") == []
    assert adapter.room_names("/other") == []
    assert not adapter.is_sid_room("/other", "a")


def test_members_selects_by_rooms_and_excludes_by_rooms_and_sids():
    adapter, _ = adapter_with("a", "b", "c", "d")
    adapter.join(NS, "a", "r")
    adapter.join(NS, "b", "r")
    adapter.join(NS, "c", "s")
    adapter.join(NS, "b", "s")
    assert sids(adapter.members(NS, None, None)) == ["a", "b", "c", "d"]
    assert sids(adapter.members(NS, ["r"], None)) == ["a", "b"]
    assert sids(adapter.members(NS, ["r", "s"], None)) == ["a", "b", "c"]  # b once
    assert sids(adapter.members(NS, ["s", "d"], None)) == ["c", "b", "d"]  # a sid room too
    assert sids(adapter.members(NS, ["r", "s"], ["s"])) == ["a"]
    assert sids(adapter.members(NS, None, ["r", "d"])) == ["c"]
    assert sids(adapter.members(NS, ["r"], ["b"])) == ["a"]  # exclude by sid
    assert sids(adapter.members(NS, ["nope"], None)) == []
    assert sids(adapter.members("/other", None, None)) == []


def test_participants():
    adapter, _ = adapter_with("a", "b")
    adapter.join(NS, "a", "r")
    assert list(adapter.participants(NS, None)) == ["a", "b"]
    assert list(adapter.participants(NS, "r")) == ["a"]
    assert list(adapter.participants(NS, "b")) == ["b"]
    assert dict(adapter.participants("/other", None)) == {}
