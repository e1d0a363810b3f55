"""aiosio: a fast Socket.IO server and client for Python, built natively on aiohttp.

``import aiosio as socketio`` runs code written for python-socketio's asyncio API: the same class
names, arguments and handler signatures. See docs/migration.md for where aiosio differs.
"""

from typing import Any

from . import exceptions, packet
from .client import AsyncClient, AsyncClientNamespace, AsyncSimpleClient
from .engine.session import CloseReason
from .server import AsyncNamespace, AsyncServer
from .server.manager import AsyncManager

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncServer",
    "AsyncSimpleClient",
    "CloseReason",
    "__version__",
    "exceptions",
    "packet",
]

_SYNC = "aiosio is asyncio only: use the Async* classes (AsyncServer, AsyncClient, ...)"
_QUEUE = "message-queue managers are not provided yet (the in-memory AsyncManager is the only one)"
#: python-socketio's public names aiosio does not provide, and what to use instead.
_NOT_PROVIDED = {
    "Client": _SYNC,
    "SimpleClient": _SYNC,
    "Server": _SYNC,
    "Namespace": _SYNC,
    "ClientNamespace": _SYNC,
    "Manager": _SYNC,
    "PubSubManager": _QUEUE,
    "KombuManager": _QUEUE,
    "RedisManager": _QUEUE,
    "ZmqManager": _QUEUE,
    "KafkaManager": _QUEUE,
    "AsyncRedisManager": _QUEUE,
    "AsyncAioPikaManager": _QUEUE,
    "WSGIApp": "aiosio runs on aiohttp: use AsyncServer.attach(app) on an aiohttp web.Application",
    "Middleware": "aiosio runs on aiohttp: use AsyncServer.attach(app) on an aiohttp web.Application",
    "ASGIApp": "aiosio runs on aiohttp, not ASGI (yet): use AsyncServer.attach(app)",
    "get_tornado_handler": "aiosio runs on aiohttp: use AsyncServer.attach(app)",
}


def __getattr__(name: str) -> Any:
    """Explain, rather than only fail, when code asks for a python-socketio name aiosio lacks."""
    why = _NOT_PROVIDED.get(name)
    if why is not None:
        raise AttributeError(f"aiosio does not provide socketio.{name}: {why}; see docs/migration.md")
    raise AttributeError(f"module 'aiosio' has no attribute {name!r}")
