"""Fixtures for the demo's tests: the app in-process, and ``aiosio serve`` as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aiosio.demo.app import create_app
from processes import AIOSIO, ServerProcess


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``install`` marker (the slow ``pip install .`` tests)."""
    config.addinivalue_line(
        "markers", "install: builds and installs aiosio from a copy of the checkout (slower: pip and npm)"
    )


@pytest.fixture
def aiosio_server(
    start: Callable[[list[str]], ServerProcess],
) -> Callable[[list[str]], ServerProcess]:
    """``aiosio_server(["serve", "--port", "0", ...])`` starts ``python -m aiosio.cli.main``
    and returns once it printed its URL; every one is killed at teardown (the ``start`` fixture)."""
    return lambda args: start([*AIOSIO, *args])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite path for one test."""
    return tmp_path / "todos.sqlite3"


@pytest.fixture
async def demo_server(db_path: Path) -> AsyncIterator[TestServer]:
    """The demo app on a real socket (127.0.0.1, a free port), in this test's event loop."""
    app: web.Application = create_app(db_path)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
