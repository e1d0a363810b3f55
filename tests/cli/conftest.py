"""Fixtures for the CLI tests: servers as real processes, and a runner for ``aiosio`` itself."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AIOSIO = [sys.executable, "-m", "aiosio.cli.main"]
_URL = re.compile(r"http://[^\s)]+")


@dataclass
class ServerProcess:
    """A server subprocess whose output goes to files (so it can never block on a pipe)."""

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


def wait_for_text(path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float) -> str:
    """Poll ``path`` until ``pattern`` appears (there is no event to await across processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(path.read_text(errors="replace"))
        if match:
            return match.group(0)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"{pattern.pattern!r} never appeared in {path}:\n{path.read_text()}")


def start_process(cmd: list[str], workdir: Path, timeout: float = 30.0) -> ServerProcess:
    """Start ``cmd`` in ``workdir`` and wait until it prints an http:// URL on stdout."""
    index = len(list(workdir.glob("proc-*.out")))
    out, err = workdir / f"proc-{index}.out", workdir / f"proc-{index}.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(workdir / "xdg")}
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env, cwd=workdir)
    try:
        url = wait_for_text(out, _URL, proc, timeout)
    except AssertionError:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"{cmd} did not start:\n{out.read_text()}\n{err.read_text()}") from None
    return ServerProcess(proc, url, out, err)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[list[str]], ServerProcess]]:
    """``start(cmd)`` runs a server process until it prints its URL; all are killed at teardown."""
    started: list[ServerProcess] = []

    def run(cmd: list[str]) -> ServerProcess:
        server = start_process(cmd, tmp_path)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(5)


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
