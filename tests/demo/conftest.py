"""Fixtures for the demo's tests: the app in-process, and ``aiosio serve`` as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aiosio.demo.app import create_app
from processes import AIOSIO, ServerProcess, start_process


def _start(args: list[str], workdir: Path, timeout: float = 30.0) -> ServerProcess:
    return start_process([*AIOSIO, *args], workdir, timeout)


@pytest.fixture
def aiosio_server(tmp_path: Path) -> Iterator[Callable[[list[str]], ServerProcess]]:
    """``aiosio_server(["serve", "--port", "0", ...])`` starts ``python -m aiosio.cli.main``
    in ``tmp_path`` and returns once it printed its URL; every one is killed at teardown."""
    started: list[ServerProcess] = []

    def start(args: list[str]) -> ServerProcess:
        server = _start(args, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(5)


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
