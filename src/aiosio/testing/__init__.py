"""Test Socket.IO code without a port: an in-process test client for an :class:`aiosio.AsyncServer`.

``client = await aiosio.testing.connect(sio, auth={...})`` connects a client to ``sio`` through the
server's own engine, with no socket and no thread: namespaces, connect handlers, auth, rooms,
broadcasts, acknowledgements, session data, the client manager's adapter (Redis too) and disconnects
behave as in production. ``async with aiosio.testing.TestServer(sio) as server:`` starts and stops
the server as its application would. What is not covered: the HTTP and WebSocket layer (CORS and
origin checks, ``max_http_buffer_size`` and other payload limits, cookies, compression, upgrades).
The pytest fixtures are in :mod:`aiosio.testing.pytest_plugin`. See docs/testing.md.
"""

from .client import NamespaceRefusedError, TestClient
from .environ import TESTING_KEY
from .events import Received
from .server import TestServer, connect

__all__ = ["TESTING_KEY", "NamespaceRefusedError", "Received", "TestClient", "TestServer", "connect"]
