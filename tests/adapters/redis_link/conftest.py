"""Real redis-server processes for the RedisLink tests: a standalone server per test (it can be killed
and restarted on its port) and a session-wide 3-master Redis Cluster. Every process is stopped by pid."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(port: int, *args: str, timeout: float = 10.0) -> str:
    """Run ``redis-cli -p port args...`` and return its output."""
    done = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout.strip()


def wait_ping(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until the server on ``port`` answers PING (or fail if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"redis-server on {port} exited with {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", port))
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            except OSError:
                pass
        time.sleep(0.02)
    raise AssertionError(f"redis-server on {port} never answered PING")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` (by its pid) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@dataclass
class RedisServer:
    """A standalone redis-server on a fixed port: kill it, start it again, freeze it."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server on :attr:`port` (no persistence) and wait for PING."""
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        cmd = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        wait_ping(self.port, self.proc)

    def kill(self) -> None:
        """SIGKILL the server (connections reset, subscriptions gone) and reap it."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def numsub(self, channel: str) -> int:
        """PUBSUB NUMSUB as redis-cli sees it (independent of the code under test)."""
        return int(cli(self.port, "PUBSUB", "NUMSUB", channel).split()[-1])


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh standalone redis-server for one test; stopped by pid at the end."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            with_cont(server.proc)
        server.kill()


def with_cont(proc: subprocess.Popen[bytes]) -> None:
    """Resume a process a test may have left stopped (SIGSTOP), so killing it is prompt."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)


@dataclass
class RedisClusterProcs:
    """A 3-master Redis Cluster (no replicas)."""

    ports: list[int]

    @property
    def url(self) -> str:
        """redis:// URL of the first node (the client discovers the rest)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcs]:
    """Three cluster-enabled redis-servers joined by ``redis-cli --cluster create``; killed by pid."""
    workdir = tmp_path_factory.mktemp("redis-cluster")
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        # the cluster bus listens on port + 10000: it must be free too
        if port < 55535 and port not in ports:
            ports.append(port)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            log = (workdir / f"redis-{port}.log").open("ab")
            cmd = [
                REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", str(workdir / f"nodes-{port}.conf"),
                "--cluster-node-timeout", "2000",
            ]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir))
            log.close()
        for port, proc in zip(ports, procs, strict=True):
            wait_ping(port, proc)
        created = subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-replicas", "0",
             "--cluster-yes"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        deadline = time.monotonic() + 20
        while not all("cluster_state:ok" in cli(p, "CLUSTER", "INFO") for p in ports):
            assert time.monotonic() < deadline, "the cluster never reached cluster_state:ok"
            time.sleep(0.1)
        yield RedisClusterProcs(ports)
    finally:
        for proc in procs:
            stop(proc)
