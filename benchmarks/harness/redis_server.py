"""A throw-away redis-server for the cluster scenarios: random port, no persistence, pinned, stopped
by pid."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import TextIO

from harness.procs import free_port, pinned, stop

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def available() -> bool:
    """Whether a redis-server executable is there."""
    return shutil.which(REDIS_SERVER) is not None


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis on 127.0.0.1:`port` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 15) -> None:
    """Block until the Redis on `port` answers PING; raise if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode} before answering")
        if ping(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server not answering on port {port} after {timeout:.0f}s")


@contextlib.contextmanager
def redis_server(core: str | None, log: TextIO) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start a fresh redis-server on a free port (pinned to `core`); yield it and its URL; stop it."""
    port = free_port()
    argv = [
        REDIS_SERVER,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    proc = subprocess.Popen(
        pinned(core, argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(proc, port)
        yield proc, f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)
