"""``aiosio client`` interrupted (SIGINT, as Ctrl+C sends) before its actions finished: exit status
130 and ``interrupted`` on stderr, whether it was still connecting or waiting for an ack. (A
listener stopped with Ctrl+C exits 0: test_cli_client.py.)"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)


def _client(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    err = tmp_path / "client.err"
    with err.open("wb") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiosio.cli.main", "client", *args],
            stdout=subprocess.DEVNULL,
            stderr=err_f,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc, err


def _wait_for(path: Path, pattern: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, path.read_text(errors="replace")):
            return
        assert proc.poll() is None, f"exited early ({proc.returncode}): {path.read_text()}"
        time.sleep(0.02)
    raise AssertionError(f"{pattern!r} never appeared: {path.read_text()}")


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    try:
        proc.send_signal(signal.SIGINT)
        return proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sigint_while_waiting_for_an_ack_is_exit_130(fixture_server: Any, tmp_path: Path) -> None:
    proc, err = _client(tmp_path, fixture_server.url, "--call", "silent", "--timeout", "30")
    _wait_for(err, "connected to", proc)
    assert _interrupt(proc) == 130
    assert "interrupted" in err.read_text()


@pytest.fixture
def mute_server() -> Iterator[socket.socket]:
    """A listening TCP socket that never answers: a client connecting to it hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(20)
        yield listener


def test_sigint_while_connecting_is_exit_130(mute_server: socket.socket, tmp_path: Path) -> None:
    port = mute_server.getsockname()[1]
    proc, err = _client(tmp_path, f"http://127.0.0.1:{port}", "--emit", "x", "--timeout", "30")
    conn, _ = mute_server.accept()  # the client is connecting: its handshake request is on its way
    with conn:
        assert proc.poll() is None, err.read_text()
        assert _interrupt(proc) == 130
    assert "interrupted" in err.read_text()
