"""The server's HTTP side: aiohttp (``server.py``) and ASGI (``asgi.py``, ``aiosio.ASGIApp``) transports
over the same engine, with the same query checks, CORS and origin checks, and limits."""

from .server import AiohttpEngineTransport

__all__ = ["AiohttpEngineTransport"]
