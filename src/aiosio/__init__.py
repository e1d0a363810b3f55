"""aiosio: a fast Socket.IO server and client for Python, built natively on aiohttp.

``import aiosio as socketio`` runs code written for python-socketio's asyncio API: the same class
names, arguments and handler signatures. See docs/migration.md for where aiosio differs.
"""

from typing import TYPE_CHECKING, Any

from . import exceptions, packet
from .client import AsyncClient, AsyncClientNamespace, AsyncSimpleClient
from .engine.session import CloseReason
from .server import AsyncNamespace, AsyncServer
from .server.manager import AsyncManager
from .server.remote import RemoteSocket
from .transport.asgi_app import ASGIApp

if TYPE_CHECKING:
    from .adapters.redis.emitter import RedisEmitter
    from .server.redis_manager import AsyncRedisManager

__version__ = "0.1.0"

__all__ = [
    "ASGIApp",
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncRedisManager",
    "AsyncServer",
    "AsyncSimpleClient",
    "CloseReason",
    "RedisEmitter",
    "RemoteSocket",
    "__version__",
    "exceptions",
    "packet",
]

_SYNC = "aiosio is asyncio only: use the Async* classes (AsyncServer, AsyncClient, ...)"
_QUEUE = (
    "of the message-queue managers only AsyncRedisManager is provided (in the wire format of Node's "
    "Redis adapter)"
)
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
    "AsyncAioPikaManager": _QUEUE,
    "WSGIApp": "aiosio runs on aiohttp: use AsyncServer.attach(app) on an aiohttp web.Application",
    "Middleware": "aiosio runs on aiohttp: use AsyncServer.attach(app) on an aiohttp web.Application",
    "get_tornado_handler": "aiosio runs on aiohttp: use AsyncServer.attach(app)",
}


#: Names that need the ``redis`` extra: imported on first use, so ``import aiosio`` needs no redis-py.
_REDIS = {
    "AsyncRedisManager": "aiosio.server.redis_manager",
    "RedisEmitter": "aiosio.adapters.redis.emitter",
}


def __getattr__(name: str) -> Any:
    """The Redis names on first use; and an explanation, rather than only a failure, when code asks
    for a python-socketio name aiosio lacks."""
    if name == "testing":  # aiosio.testing (the in-process test client) without importing it first
        import importlib

        return importlib.import_module("aiosio.testing")
    module = _REDIS.get(name)
    if module is not None:
        try:
            import importlib

            value = getattr(importlib.import_module(module), name)
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("redis"):
                raise
            raise ImportError(f"aiosio.{name} needs redis-py: pip install 'aiosio[redis]'") from exc
        globals()[name] = value
        return value
    why = _NOT_PROVIDED.get(name)
    if why is not None:
        raise AttributeError(f"aiosio does not provide socketio.{name}: {why}; see docs/migration.md")
    raise AttributeError(f"module 'aiosio' has no attribute {name!r}")
