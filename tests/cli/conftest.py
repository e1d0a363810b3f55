"""Fixtures for the CLI tests: servers as real processes, and a runner for ``aiosio`` itself."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from peers import require_node
from processes import AIOSIO, ServerProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture
def fixture_server(start: Callable[[list[str]], ServerProcess]) -> ServerProcess:
    """``tests/cli/cli_fixture_app.py``'s server, run by ``aiosio run``."""
    return start([*AIOSIO, "run", "cli_fixture_app:sio", "--app-dir", str(HERE), "--port", "0"])


@pytest.fixture
def node_server(start: Callable[[list[str]], ServerProcess]) -> ServerProcess:
    """A Node socket.io server (the npm peer in node_modules); without Node the test skips (fails on CI)."""
    return start([require_node(), str(HERE / "node_echo_server.js")])


def _run_aiosio(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AIOSIO, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture
def aiosio_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``aiosio_cli(*args)`` runs ``aiosio *args`` to completion and captures its output."""
    return _run_aiosio
