"""Where rooms live and how a broadcast reaches its sockets: the in-memory adapter is the default."""

from .base import Adapter, Member
from .memory import MemoryAdapter

__all__ = ["Adapter", "Member", "MemoryAdapter"]
