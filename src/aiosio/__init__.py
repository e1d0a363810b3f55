"""aiosio: a fast Socket.IO server and client for Python, built natively on aiohttp.

``import aiosio as socketio`` runs code written for python-socketio's asyncio API: the same class
names, arguments and handler signatures. See docs/migration.md for where aiosio differs.
"""

from . import exceptions
from .client import AsyncClient, AsyncClientNamespace, AsyncSimpleClient
from .engine.session import CloseReason
from .server import AsyncNamespace, AsyncServer

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncNamespace",
    "AsyncServer",
    "AsyncSimpleClient",
    "CloseReason",
    "__version__",
    "exceptions",
]
