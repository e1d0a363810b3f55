"""The public Socket.IO server API: :class:`AsyncServer` and :class:`AsyncNamespace`."""

from .namespace import AsyncNamespace
from .server import AsyncServer

__all__ = ["AsyncNamespace", "AsyncServer"]
