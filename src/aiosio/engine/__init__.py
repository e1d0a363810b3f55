"""Engine.IO v4 sessions on asyncio: the registry, heartbeat timers, bounded outbound queues, upgrades.

This layer knows nothing of aiohttp: :mod:`aiosio.transport` adapts HTTP requests and WebSocket
connections to the calls made here.
"""

from .options import EngineOptions
from .server import EngineCore, EngineHandler
from .session import CloseReason, EngineSession

__all__ = ["CloseReason", "EngineCore", "EngineHandler", "EngineOptions", "EngineSession"]
