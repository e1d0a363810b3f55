"""Fixtures for the CLI tests: servers as real processes, and a runner for ``aiosio`` itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from processes import AIOSIO, ServerProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture
def fixture_server(start: Callable[[list[str]], ServerProcess]) -> ServerProcess:
    """``tests/cli/cli_fixture_app.py``'s server, run by ``aiosio run``."""
    return start([*AIOSIO, "run", "cli_fixture_app:sio", "--app-dir", str(HERE), "--port", "0"])


@pytest.fixture
def node_server(start: Callable[[list[str]], ServerProcess]) -> ServerProcess:
    """A Node socket.io server (the npm peer in node_modules); skipped if Node is missing."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "socket.io").is_dir():
        pytest.skip("needs Node.js and the npm peers (scripts/setup runs npm ci)")
    return start([node, str(HERE / "node_echo_server.js")])


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
