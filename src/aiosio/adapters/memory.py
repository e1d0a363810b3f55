"""The in-memory adapter: rooms indexed both ways; a broadcast is encoded once, and only when it
has a recipient, and the same frames go to every recipient."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..protocol.frames import Frame
from .base import AckCallback, AckRequest, AdapterHost, Answers, EventPacket, Member, Selector, SocketInfo

_NO_ROOMS: frozenset[str] = frozenset()


#: ``event_emitted(namespace, event, args, rooms, recipients, exclude)``: see
#: :meth:`aiosio.server.observe.Observer.event_emitted`.
EmitHook = Callable[[str, str, tuple[Any, ...], Sequence[str] | None, int, Sequence[str]], None]


class DeliveryObserver(Protocol):
    """What the adapter reports to the server's observers (``aiosio.server.observe.ObserverSet``):
    each hook is None when nobody listens to it."""

    room_joined: Callable[[str, str, str], None] | None
    room_left: Callable[[str, str, str], None] | None
    event_emitted: EmitHook | None


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
    """Rooms and broadcasts for one process: the default adapter (``sio.manager.adapter``).

    Every operation by selector acts on this process's sockets only; ``server_count`` is 1 and
    ``server_side_emit`` reaches nobody (there is no other server), answering ``[]``.
    """

    def __init__(self) -> None:
        self._namespaces: dict[str, _Namespace] = {}
        #: The server's observers while it has any (set by the server), else None.
        self.observer: DeliveryObserver | None = None
        #: Engine.IO packets and bytes of the broadcasts delivered here (recipients x the packet's
        #: frames and their encoded length, added once per broadcast: the sockets count only what
        #: is sent to them directly). Read by ``aiosio.server.observe.traffic``.
        self.sent_packets = 0
        self.sent_bytes = 0

    async def init(self, host: AdapterHost) -> None:
        """Nothing to set up."""

    async def close(self) -> None:
        """Nothing to tear down: the sockets leave as their connections close."""

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
        obs = self.observer
        for room in ns.sids_rooms.pop(sid, _NO_ROOMS):
            members = ns.rooms.get(room)
            if members is not None:
                members.pop(sid, None)
                if obs is not None and obs.room_left is not None:
                    obs.room_left(namespace, room, sid)
                if not members:
                    del ns.rooms[room]
                    self.room_deleted(namespace, room)
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
        members = ns.rooms.get(room)
        if members is None:
            members = ns.rooms[room] = {}
            self.room_created(namespace, room)
        elif sid in members:
            return
        members[sid] = member
        ns.sids_rooms.setdefault(sid, set()).add(room)
        obs = self.observer
        if obs is not None and obs.room_joined is not None:
            obs.room_joined(namespace, room, sid)

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket out of a named room (a socket never leaves its own sid room)."""
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        members = ns.rooms.get(room)
        if members is not None and members.pop(sid, None) is not None:
            if not members:
                del ns.rooms[room]
                self.room_deleted(namespace, room)
            rooms = ns.sids_rooms[sid]
            rooms.discard(room)
            if not rooms:
                del ns.sids_rooms[sid]
            obs = self.observer
            if obs is not None and obs.room_left is not None:
                obs.room_left(namespace, room, sid)

    def room_created(self, namespace: str, room: str) -> None:
        """A named room got its first member (a cluster adapter may subscribe to it)."""

    def room_deleted(self, namespace: str, room: str) -> None:
        """A named room lost its last member."""

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
    ) -> Sequence[Member]:
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

    def local(self, namespace: str, selector: Selector) -> Sequence[Member]:
        """The sockets the selector picks (a copy: rooms may change while it is used)."""
        if selector.sids:
            ns = self._namespaces.get(namespace)
            if ns is None or not selector.rooms:
                return ()
            excluded = {m.sid for m in self.members(namespace, selector.exclude, None)}
            found = (ns.sockets.get(sid) for sid in dict.fromkeys(selector.rooms))
            return [m for m in found if m is not None and m.sid not in excluded]
        return self.members(namespace, selector.rooms, selector.exclude)

    # -- operations by selector (this process only) -----------------------------------------------

    async def broadcast(self, packet: EventPacket, selector: Selector) -> None:
        """Hand the same frames to every selected socket; encode nothing if none is selected."""
        self.deliver(packet, selector)

    def deliver(self, packet: EventPacket, selector: Selector) -> None:
        """:meth:`broadcast` to this process's sockets (synchronous: what a cluster adapter runs for
        a broadcast that arrives from another node)."""
        members = self.local(packet.namespace, selector)
        obs = self.observer
        if not members:
            if obs is not None and obs.event_emitted is not None:
                _emitted(obs.event_emitted, packet, selector, 0)
            return
        frames = packet.frames()
        if selector.volatile:
            sent = 0
            for member in members:
                sent += member.fan_out_volatile(frames)
        else:
            for member in members:
                member.fan_out(frames)
            sent = len(members)
        self._count(frames, sent)
        if obs is not None and obs.event_emitted is not None:
            _emitted(obs.event_emitted, packet, selector, sent)

    def _count(self, frames: Sequence[Frame], recipients: int) -> None:
        """Count a broadcast's traffic: its frames to ``recipients`` sockets, once."""
        self.sent_packets += recipients * len(frames)
        self.sent_bytes += recipients * sum([len(frame.payload) for frame in frames])

    async def broadcast_with_ack(
        self,
        packet: EventPacket,
        selector: Selector,
        on_count: Callable[[int], None],
        on_ack: AckCallback,
    ) -> AckRequest:
        """One ack id free on every recipient, so the packet is encoded once for all of them."""
        return AckRequest(self.deliver_with_ack(packet, selector, on_count, on_ack))

    def deliver_with_ack(
        self,
        packet: EventPacket,
        selector: Selector,
        on_count: Callable[[int], None],
        on_ack: AckCallback,
    ) -> Callable[[], None]:
        """:meth:`broadcast_with_ack` to this process's sockets (synchronous).

        Only recipients the packet reached are counted and waited for: a volatile packet a
        transport could not take, or a socket whose disconnect is under way, expects no ack.
        """
        members = [m for m in self.local(packet.namespace, selector) if not m.gone]
        obs = self.observer
        if not members:
            on_count(0)
            if obs is not None and obs.event_emitted is not None:
                _emitted(obs.event_emitted, packet, selector, 0)
            return _nothing
        ack_id = max(member.next_ack_id for member in members)
        frames = packet.frames_with_ack(ack_id)
        if selector.volatile:
            # Registered once sent (an ack can only arrive on a later loop turn).
            members = [m for m in members if m.fan_out_volatile(frames)]
            on_count(len(members))
            for member in members:
                member.add_ack(on_ack, ack_id)
        else:
            on_count(len(members))
            for member in members:
                member.add_ack(on_ack, ack_id)
            for member in members:
                member.fan_out(frames)
        self._count(frames, len(members))
        if obs is not None and obs.event_emitted is not None:
            _emitted(obs.event_emitted, packet, selector, len(members))

        def forget() -> None:
            for member in members:
                member.pop_ack(ack_id)

        return forget

    async def add_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Put the selected sockets in every room of ``rooms``."""
        self.join_selected(namespace, selector, rooms)

    def join_selected(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """:meth:`add_sockets` for this process's sockets (synchronous)."""
        names = list(rooms)
        for member in self.local(namespace, selector):
            for room in names:
                self.join(namespace, member.sid, room)

    async def del_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Take the selected sockets out of every room of ``rooms``."""
        self.leave_selected(namespace, selector, rooms)

    def leave_selected(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """:meth:`del_sockets` for this process's sockets (synchronous)."""
        names = list(rooms)
        for member in self.local(namespace, selector):
            for room in names:
                self.leave(namespace, member.sid, room)

    async def disconnect_sockets(self, namespace: str, selector: Selector, close: bool = False) -> None:
        """Disconnect the selected sockets."""
        self.disconnect_selected(namespace, selector, close)

    def disconnect_selected(self, namespace: str, selector: Selector, close: bool = False) -> None:
        """:meth:`disconnect_sockets` for this process's sockets (synchronous)."""
        for member in self.local(namespace, selector):
            member.disconnect(close)

    async def fetch_sockets(self, namespace: str, selector: Selector) -> Answers[SocketInfo]:
        """Describe the selected sockets."""
        return Answers(self.describe(namespace, selector))

    def describe(self, namespace: str, selector: Selector) -> list[SocketInfo]:
        """The :class:`SocketInfo` of the selected sockets of this process."""
        return [
            SocketInfo(
                m.sid, namespace, tuple(self.rooms(namespace, m.sid)), m.eio_sid, m.user, m.handshake()
            )
            for m in self.local(namespace, selector)
        ]

    async def server_side_emit(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None = None,
        want_answers: bool = False,
    ) -> Answers[Any]:
        """There is no other server to reach: nothing is sent, nobody answers."""
        return Answers()

    async def server_count(self, namespace: str = "/") -> int:
        """Always 1."""
        return 1


def _nothing() -> None:
    return None


def _emitted(hook: EmitHook, packet: EventPacket, selector: Selector, recipients: int) -> None:
    hook(packet.namespace, packet.event, packet.args, selector.rooms, recipients, selector.exclude)
