"""The in-memory adapter: rooms indexed both ways, broadcasts encoded once by the caller."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..protocol.frames import Frame
from .base import Member

_NO_ROOMS: frozenset[str] = frozenset()


class _Namespace:
    __slots__ = ("rooms", "sids_rooms", "sockets")

    def __init__(self) -> None:
        #: sid -> socket. It doubles as the index of the sid rooms: each socket is implicitly in the
        #: room named after its sid, which costs no dict or set of its own (~0.5 KiB per connection).
        self.sockets: dict[str, Member] = {}
        #: room -> {sid: member} for named rooms; a dict keeps join order, so delivery order is stable.
        self.rooms: dict[str, dict[str, Member]] = {}
        #: sid -> the named rooms it is in, only for sockets in any: leaving everything costs
        #: O(rooms of that socket).
        self.sids_rooms: dict[str, set[str]] = {}

    def room(self, room: str) -> Mapping[str, Member]:
        members = self.rooms.get(room)
        if members is not None:
            return members
        member = self.sockets.get(room)
        return {room: member} if member is not None else {}


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
        """Register a socket; it is in its own sid room from now on."""
        self._ns(namespace).sockets[member.sid] = member

    def remove(self, namespace: str, sid: str) -> None:
        """Forget a socket and take it out of every room it is in."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        ns.sockets.pop(sid, None)
        for room in ns.sids_rooms.pop(sid, _NO_ROOMS):
            members = ns.rooms.get(room)
            if members is not None:
                members.pop(sid, None)
                if not members:
                    del ns.rooms[room]
        if not ns.sockets and not ns.rooms:
            # With namespaces='*' clients choose the names: an empty one must not stay behind.
            del self._namespaces[namespace]

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a connected socket in a room (unknown sids are ignored)."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        member = ns.sockets.get(sid)
        if member is None or room == sid:
            return
        ns.rooms.setdefault(room, {})[sid] = member
        ns.sids_rooms.setdefault(sid, set()).add(room)

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket out of a named room (a socket never leaves its own sid room)."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        members = ns.rooms.get(room)
        if members is not None and members.pop(sid, None) is not None:
            if not members:
                del ns.rooms[room]
            rooms = ns.sids_rooms[sid]
            rooms.discard(room)
            if not rooms:
                del ns.sids_rooms[sid]

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
        if ns is None or sid not in ns.sockets:
            return []
        return [sid, *sorted(ns.sids_rooms.get(sid, _NO_ROOMS))]

    def room_members(self, namespace: str, room: str) -> list[str]:
        """The sids in a room."""
        ns = self._namespaces.get(namespace)
        return list(ns.room(room)) if ns else []

    # -- read-only views, for the python-socketio ``AsyncManager`` API --------------------------

    def namespace_names(self) -> list[str]:
        """The namespaces that have sockets (or rooms) now."""
        return list(self._namespaces)

    def participants(self, namespace: str, room: str | None) -> Mapping[str, Member]:
        """sid -> socket for a room (a named room or a sid room), or every socket when None.

        A live view where possible: do not change rooms while iterating it.
        """
        ns = self._namespaces.get(namespace)
        if ns is None:
            return {}
        return ns.sockets if room is None else ns.room(room)

    def room_names(self, namespace: str) -> list[str]:
        """The named rooms of a namespace (sid rooms not included)."""
        ns = self._namespaces.get(namespace)
        return list(ns.rooms) if ns else []

    def is_sid_room(self, namespace: str, room: str) -> bool:
        """True if ``room`` is the sid of a socket of the namespace."""
        ns = self._namespaces.get(namespace)
        return ns is not None and room in ns.sockets

    def members(
        self, namespace: str, rooms: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> Iterable[Member]:
        """Sockets in any of ``rooms`` (all when None), minus those in any room of ``exclude``."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return ()
        if rooms is None:
            selected: Mapping[str, Member] = ns.sockets
        elif len(rooms) == 1:
            selected = ns.room(rooms[0])
        else:
            union: dict[str, Member] = {}
            for room in rooms:
                union.update(ns.room(room))
            selected = union
        if not exclude:
            return list(selected.values())
        excluded: set[str] = set()
        for room in exclude:
            excluded.update(ns.room(room))
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
