"""What ``AsyncServer.fetch_sockets`` returns: one socket of this server or of another node of the
cluster, with Node's ``RemoteSocket`` fields and operations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..adapters.base import EventPacket, Selector, SocketInfo

if TYPE_CHECKING:
    from .server import AsyncServer


class RemoteSocket:
    """A socket found by :meth:`~aiosio.AsyncServer.fetch_sockets`, wherever it is connected.

    ``sid``, ``namespace``, ``rooms`` (its own sid room included), ``data`` (its user session, Node's
    ``socket.data``) and ``handshake`` (Node's ``socket.handshake``) are a snapshot taken when it was
    fetched. Its operations act on the socket where it lives now, through the adapter: on this
    server directly, on another node through the cluster.
    """

    __slots__ = ("_server", "data", "handshake", "local", "namespace", "rooms", "sid")

    def __init__(self, server: AsyncServer, info: SocketInfo) -> None:
        self._server = server
        self.sid = info.sid
        self.namespace = info.namespace
        self.rooms: frozenset[str] = frozenset(info.rooms)
        self.data: Any = dict(info.data) if isinstance(info.data, dict) else info.data
        self.handshake: Mapping[str, Any] = info.handshake
        #: True when the socket is connected to this server.
        self.local = info.eio_sid is not None

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.sid} {self.namespace} rooms={sorted(self.rooms)}>"

    def _selector(self) -> Selector:
        return Selector((self.sid,), sids=True)

    async def emit(self, event: str, data: Any = None) -> None:
        """Emit ``event`` to this socket (``data``: one argument, or a tuple of arguments); on the
        wire a broadcast to its sid flagged ``expectSingleResponse``, as Node's RemoteSocket sends."""
        if self.local:  # the server's own emit: its hooks and connection-state recovery apply
            await self._server.emit(event, data, to=self.sid, namespace=self.namespace)
            return
        packet = EventPacket(self.namespace, event, self._server._args(data), self._server._encode)
        await self._server._adapter.broadcast(packet, self._selector())

    async def join(self, rooms: str | Iterable[str]) -> None:
        """Put this socket in a room, or in each of several rooms."""
        names = [rooms] if isinstance(rooms, str) else list(rooms)
        await self._server._adapter.add_sockets(self.namespace, self._selector(), names)

    async def leave(self, rooms: str | Iterable[str]) -> None:
        """Take this socket out of a room, or of each of several rooms."""
        names = [rooms] if isinstance(rooms, str) else list(rooms)
        await self._server._adapter.del_sockets(self.namespace, self._selector(), names)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket from its namespace (``close``: its whole connection too)."""
        await self._server._adapter.disconnect_sockets(self.namespace, self._selector(), close)
