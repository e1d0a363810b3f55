"""Where rooms live and how a broadcast reaches its sockets. :mod:`.base` is the adapter core (the
:class:`Selector`, the :class:`EventPacket`, the :class:`Adapter` interface and the :class:`Member`
back-interface); the in-memory adapter is the default. python-socketio's manager API on top of it,
:class:`aiosio.AsyncManager`, is in :mod:`aiosio.server.manager`."""

from .base import EVERYONE, Adapter, EventPacket, Member, Selector, SocketInfo
from .memory import MemoryAdapter

__all__ = [
    "EVERYONE",
    "Adapter",
    "EventPacket",
    "Member",
    "MemoryAdapter",
    "Selector",
    "SocketInfo",
]
