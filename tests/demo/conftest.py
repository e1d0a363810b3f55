"""Fixtures for the demo's tests: the app in-process, and ``aiosio serve`` as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aiosio.demo.app import create_app

_URL = re.compile(r"http://[^\s)]+")


@dataclass
class ServerProcess:
    """An ``aiosio`` server subprocess whose output goes to files (so it can never block)."""

    proc: subprocess.Popen[bytes]
    url: str
    out: Path
    err: Path

    def output(self) -> str:
        """Everything it wrote so far, stdout then stderr."""
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status (killing it if it overstays)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"server ignored signal {sig}:\n{self.output()}") from None
        return self.proc.returncode


def _start(args: list[str], workdir: Path, timeout: float = 30.0) -> ServerProcess:
    index = len(list(workdir.glob("server-*.out")))
    out, err = workdir / f"server-{index}.out", workdir / f"server-{index}.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(workdir / "xdg")}
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiosio.cli.main", *args],
            stdout=out_f,
            stderr=err_f,
            env=env,
            cwd=workdir,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _URL.search(out.read_text(errors="replace"))
        if match:
            return ServerProcess(proc, match.group(0), out, err)
        if proc.poll() is not None:
            break
        time.sleep(0.02)  # polling a file: there is no event to await across processes
    proc.kill()
    proc.wait(5)
    raise AssertionError(f"aiosio {' '.join(args)} did not start:\n{out.read_text()}\n{err.read_text()}")


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
