"""Where rooms live and how a broadcast reaches its sockets. :mod:`.base` is the adapter core (the
:class:`Selector`, the :class:`EventPacket`, the :class:`Adapter` interface and the :class:`Member`
back-interface); the in-memory adapter is the default, and :class:`AsyncManager` is python-socketio's
manager API on top of it."""

from .base import EVERYONE, Adapter, EventPacket, Member, Selector, SocketInfo
from .manager import AsyncManager
from .memory import MemoryAdapter

__all__ = [
    "EVERYONE",
    "Adapter",
    "AsyncManager",
    "EventPacket",
    "Member",
    "MemoryAdapter",
    "Selector",
    "SocketInfo",
]
