"""The engine options of tests/integration/test_engine_options.py (the sid cookie and its attributes,
HTTP compression of polling payloads and its threshold) against ``aiosio.ASGIApp`` under uvicorn."""

from __future__ import annotations

from asgi_support import TESTS, load_tests

load_tests(TESTS / "integration" / "test_engine_options.py", "asgi_engine_options", globals())
