"""The in-memory adapter: rooms indexed both ways, broadcasts encoded once by the caller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..protocol.frames import Frame
from .base import Member


class _Namespace:
    __slots__ = ("rooms", "sids_rooms", "sockets")

    def __init__(self) -> None:
        self.sockets: dict[str, Member] = {}
        #: room -> {sid: member}; a dict keeps join order, so delivery order is stable.
        self.rooms: dict[str, dict[str, Member]] = {}
        #: sid -> rooms it is in: leaving everything costs O(rooms of that socket).
        self.sids_rooms: dict[str, set[str]] = {}


class MemoryAdapter:
    """Rooms and broadcasts for one process. This is the default ``client_manager``."""

    def __init__(self) -> None:
        self._namespaces: dict[str, _Namespace] = {}

    def _ns(self, namespace: str) -> _Namespace:
        ns = self._namespaces.get(namespace)
        if ns is None:
            ns = self._namespaces[namespace] = _Namespace()
        return ns

    def add(self, namespace: str, member: Member) -> None:
        """Register a socket and put it in its own sid room."""
        ns = self._ns(namespace)
        ns.sockets[member.sid] = member
        ns.sids_rooms[member.sid] = set()
        self.join(namespace, member.sid, member.sid)

    def remove(self, namespace: str, sid: str) -> None:
        """Forget a socket and take it out of every room it is in."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        ns.sockets.pop(sid, None)
        for room in ns.sids_rooms.pop(sid, ()):
            members = ns.rooms.get(room)
            if members is not None:
                members.pop(sid, None)
                if not members:
                    del ns.rooms[room]

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a connected socket in a room (unknown sids are ignored)."""
        ns = self._ns(namespace)
        member = ns.sockets.get(sid)
        if member is None:
            return
        ns.rooms.setdefault(room, {})[sid] = member
        ns.sids_rooms[sid].add(room)

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket out of a room."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        members = ns.rooms.get(room)
        if members is not None and members.pop(sid, None) is not None:
            if not members:
                del ns.rooms[room]
            ns.sids_rooms[sid].discard(room)

    def close_room(self, namespace: str, room: str) -> None:
        """Take every socket out of ``room``."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        for sid in list(ns.rooms.get(room, ())):
            self.leave(namespace, sid, room)

    def rooms(self, namespace: str, sid: str) -> list[str]:
        """The socket's rooms, its sid room first."""
        ns = self._namespaces.get(namespace)
        if ns is None or sid not in ns.sids_rooms:
            return []
        others = sorted(r for r in ns.sids_rooms[sid] if r != sid)
        return [sid, *others]

    def room_members(self, namespace: str, room: str) -> list[str]:
        """The sids in a room."""
        ns = self._namespaces.get(namespace)
        return list(ns.rooms.get(room, ())) if ns else []

    def members(
        self, namespace: str, rooms: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> Iterable[Member]:
        """Sockets in any of ``rooms`` (all when None), minus those in any room of ``exclude``."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return ()
        if rooms is None:
            selected: dict[str, Member] = ns.sockets
        elif len(rooms) == 1:
            selected = ns.rooms.get(rooms[0], {})
        else:
            selected = {}
            for room in rooms:
                selected.update(ns.rooms.get(room, {}))
        if not exclude:
            return list(selected.values())
        excluded: set[str] = set()
        for room in exclude:
            excluded.update(ns.rooms.get(room, ()))
        return [m for sid, m in selected.items() if sid not in excluded]

    async def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: Sequence[str] | None,
        exclude: Sequence[str] | None,
        volatile: bool = False,
    ) -> None:
        """Hand the same encoded frames to every selected socket: no per-recipient encoding."""
        if volatile:
            for member in self.members(namespace, rooms, exclude):
                member.deliver_volatile(frames)
        else:
            for member in self.members(namespace, rooms, exclude):
                member.deliver(frames)
