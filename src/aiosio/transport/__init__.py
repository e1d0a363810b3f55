"""The aiohttp layer of the server: routes, long-polling, WebSocket, CORS and origin checks."""

from .server import AiohttpEngineTransport

__all__ = ["AiohttpEngineTransport"]
