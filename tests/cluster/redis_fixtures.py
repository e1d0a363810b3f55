"""Real ``redis-server`` processes for the cluster tests: one standalone server, or a 3-master Redis Cluster.

Each server listens on 127.0.0.1 on a port that was free a moment ago, with persistence off, and logs to
a file in the test's temporary folder. Every process is stopped by its pid (SIGKILL: nothing to save).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

#: How long a server gets to answer PING after it was started.
START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (like tests/conftest.py's, which a package
    under tests/ cannot import reliably: every folder's conftest module is named ``conftest``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server on 127.0.0.1:*port* answers PING (and is done loading)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 (standalone, or one node of a cluster)."""

    executable: str
    workdir: Path
    port: int = 0
    #: Extra ``redis-server`` arguments (the cluster nodes' ``--cluster-enabled yes`` ...).
    extra_args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    #: How many times this server was started (``restart()`` adds one).
    starts: int = 0

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The pid of the running server process."""
        assert self.proc is not None, "redis-server is not running"
        return self.proc.pid

    @property
    def log(self) -> Path:
        """The server's log file (stdout and stderr)."""
        return self.workdir / f"redis-{self.port}.log"

    def _command(self) -> list[str]:
        return [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
            "--loglevel",
            "notice",
            *self.extra_args,
        ]

    def _spawn_and_wait(self) -> bool:
        """Start the process on ``self.port``; True once it answers PING, False if it exited."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if ping(self.port):
                return True
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"redis-server on port {self.port} never answered PING:\n{self.output()}")

    def start(self, attempts: int = 5) -> RedisServer:
        """Start on a free port (another one if that port was taken meanwhile); waits for PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        fixed = self.port != 0
        for _ in range(attempts):
            if not fixed:
                self.port = free_port()
            if self._spawn_and_wait():
                return self
            time.sleep(0.1)  # a fixed port (cluster bus, restart) may still be held for a moment
        raise AssertionError(f"redis-server would not start (last port {self.port}):\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL the process by its pid and reap it (no-op when it is not running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    stop = kill

    def restart(self) -> None:
        """SIGKILL the server, then start it again on the same port and wait for PING.

        Clients see their connections drop (no FIN handshake of a graceful shutdown is awaited) and
        must reconnect; nothing is persisted, so the new server starts empty.
        """
        self.kill()
        self.start()

    async def restart_async(self) -> None:
        """:meth:`restart` in a thread, so an event loop serving in-process nodes keeps running."""
        await asyncio.to_thread(self.restart)

    def client(self) -> redis.Redis:
        """A synchronous redis-py client to this server (close it after use)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def flush(self) -> None:
        """``FLUSHALL``: drop every key (pub/sub subscriptions are not keys and stay)."""
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()

    def output(self) -> str:
        """What the server logged so far."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class RedisClusterServers:
    """A Redis Cluster of three masters (no replicas) on 127.0.0.1, created with ``redis-cli --cluster``."""

    executable: str
    cli: str
    workdir: Path
    masters: int = 3
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        """``redis://127.0.0.1:<port>`` of every master."""
        return [node.url for node in self.nodes]

    @property
    def ports(self) -> list[int]:
        """The masters' client ports."""
        return [node.port for node in self.nodes]

    @property
    def pids(self) -> list[int]:
        """The masters' pids."""
        return [node.pid for node in self.nodes]

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        """Start the masters, assign the 16384 slots, and wait for ``cluster_state:ok`` on every node."""
        for _ in range(self.masters):
            port, bus = free_port(), free_port()
            node = RedisServer(
                self.executable,
                self.workdir,
                port=port,
                extra_args=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(self.workdir / f"nodes-{port}.conf"),
                    "--cluster-port",
                    str(bus),
                    "--cluster-node-timeout",
                    "5000",
                ),
            )
            self.nodes.append(node)
            node.start(attempts=1)
        addresses = [f"127.0.0.1:{p}" for p in self.ports]
        create = subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if create.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create failed:\n{create.stdout!r}\n{create.stderr!r}")
        deadline = time.monotonic() + timeout
        while not all(self.state(node) == "ok" for node in self.nodes):
            if time.monotonic() > deadline:
                states = {n.port: self.state(n) for n in self.nodes}
                raise AssertionError(f"the cluster never reached cluster_state:ok: {states}")
            time.sleep(0.05)
        return self

    @staticmethod
    def state(node: RedisServer) -> str:
        """The node's ``cluster_state`` (``ok`` / ``fail``), or ``down`` when it does not answer."""
        client = node.client()
        try:
            info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
        except redis.RedisError:
            return "down"
        finally:
            client.close()
        text = info.decode() if isinstance(info, bytes) else str(info)
        for line in text.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return "unknown"

    def stop(self) -> None:
        """SIGKILL every master by its pid."""
        for node in self.nodes:
            node.kill()


@contextlib.contextmanager
def running_redis(executable: str, directory: Path) -> Iterator[RedisServer]:
    """A started standalone redis-server in ``directory``, SIGKILLed by pid on exit."""
    server = RedisServer(executable, directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.contextmanager
def running_redis_cluster(server: str, cli: str, directory: Path) -> Iterator[RedisClusterServers]:
    """A started Redis Cluster of 3 masters in ``directory``, each SIGKILLed by pid on exit."""
    masters = RedisClusterServers(server, cli, directory)
    try:
        masters.start()
        yield masters
    finally:
        masters.stop()
