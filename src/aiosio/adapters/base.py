"""The adapter interface: room membership and broadcast delivery, per namespace.

An adapter that spans processes (Redis) implements the same calls and also forwards broadcasts to
the other nodes; the server never reaches around it to find sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ..protocol.frames import Frame


class Member(Protocol):
    """What an adapter needs of a socket: its id and a way to hand it encoded packets."""

    sid: str

    @property
    def eio_sid(self) -> str:
        """The Engine.IO session id of the connection this socket belongs to."""
        ...

    def deliver(self, frames: Sequence[Frame]) -> None:
        """Send these frames (one Socket.IO packet) to this socket, in order."""
        ...

    def deliver_volatile(self, frames: Sequence[Frame]) -> None:
        """Send unless the transport cannot take it right now (then drop it)."""
        ...


class Adapter(Protocol):
    """Room membership and delivery for every namespace of one server."""

    def add(self, namespace: str, member: Member) -> None:
        """Register a connected socket; it joins the room named after its sid."""
        ...

    def remove(self, namespace: str, sid: str) -> None:
        """Forget a socket and take it out of every room (cost: O(rooms of that socket))."""
        ...

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a socket in a room."""
        ...

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket out of a room."""
        ...

    def close_room(self, namespace: str, room: str) -> None:
        """Take every socket out of a room."""
        ...

    def rooms(self, namespace: str, sid: str) -> list[str]:
        """The rooms a socket is in, its own sid room included."""
        ...

    def members(
        self, namespace: str, rooms: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> Iterable[Member]:
        """Sockets in any of ``rooms`` (every socket when None) and in none of ``exclude``."""
        ...

    async def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: Sequence[str] | None,
        exclude: Sequence[str] | None,
        volatile: bool = False,
    ) -> None:
        """Deliver one encoded packet to the selected sockets (and, for a cluster, other nodes)."""
        ...
