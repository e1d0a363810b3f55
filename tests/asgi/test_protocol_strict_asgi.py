"""The Engine.IO / Socket.IO wire checks of tests/integration/test_protocol_strict.py (the official
suites' checks, see docs/conformance.md), run against ``aiosio.ASGIApp`` under uvicorn: this
folder's ``serve`` fixture is uvicorn's."""

from __future__ import annotations

from asgi_support import TESTS, load_tests

load_tests(TESTS / "integration" / "test_protocol_strict.py", "asgi_protocol_strict", globals())
