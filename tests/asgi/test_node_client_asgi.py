"""The npm socket.io-client interop tests of tests/interop/test_node_client.py (WebSocket, polling and
upgrade; acks, binary, rooms, namespaces, disconnects, msgpack) against ``aiosio.ASGIApp`` under
uvicorn: this folder's ``serve`` fixture is uvicorn's."""

from __future__ import annotations

from asgi_support import TESTS, load_tests

load_tests(TESTS / "interop" / "test_node_client.py", "asgi_node_client", globals())
