"""Where rooms live and how a broadcast reaches its sockets: the in-memory adapter is the default,
and :class:`AsyncManager` is python-socketio's manager API on top of it."""

from .base import Adapter, Member
from .manager import AsyncManager
from .memory import MemoryAdapter

__all__ = ["Adapter", "AsyncManager", "Member", "MemoryAdapter"]
