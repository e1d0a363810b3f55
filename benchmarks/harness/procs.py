"""Starting, probing and stopping the server and the load generator, each pinned to a core."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

LOADGEN = Path(__file__).resolve().parent.parent / "load" / "loadgen.js"
NODE = shutil.which("node") or "node"


def raise_fd_limit(needed: int) -> int:
    """Raise this process's open-file soft limit to the hard limit; children inherit it.

    A hard limit below `needed` (20,000 clients need 20,000 + `FD_HEADROOM` descriptors in the server
    and as many in the generator, each process counting its own) is raised too when the process may
    (CAP_SYS_RESOURCE, which root usually has but a container may not): up to
    ``/proc/sys/fs/nr_open``. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            ceiling = needed
        want = min(ceiling, max(needed, 65536))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            soft = hard = want
        except (ValueError, OSError):
            pass  # not allowed: the warning below says what is missing
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft < needed:
        print(
            f"warning: open-file limit {soft} < {needed} and the hard limit cannot be raised here "
            "(no CAP_SYS_RESOURCE): raise it before the run (`ulimit -Hn`, LimitNOFILE=, "
            "docker --ulimit nofile=); a curve point over it runs with as many clients as it "
            "allows (its record says how many), any other scenario over it is recorded as failed"
        )
    return soft


#: Descriptors a server or the generator holds beyond one per client (listening socket, stdio, the
#: event loop's epoll and self-pipe, Node's libuv handles, log files). Measured with /proc/<pid>/fd
#: during a 300-client curve point: at most 7 for the Python servers on asyncio, 14 on uvloop, 20
#: for Node's server and 18 for the generator; this is twice the largest.
FD_HEADROOM = 40
#: A curve point the open-file limit cannot hold is run with fewer clients (the most the limit
#: allows) when that is at least this share of its own count; below it, it fails at once.
FD_CAP_SHARE = 0.9


def fd_capacity(limit: int) -> int:
    """The most clients a server and the generator can each hold under the open-file `limit`."""
    return max(0, limit - FD_HEADROOM)


def fd_shortfall(clients: int, limit: int) -> str | None:
    """Why `clients` connections cannot be opened under the open-file `limit`, or None if they can."""
    if clients + FD_HEADROOM <= limit:
        return None
    return (
        f"open-file limit {limit} < {clients + FD_HEADROOM} needed for {clients} clients "
        "(the server and the generator each hold one descriptor per client): raise the hard limit"
    )


def fd_capped(clients: int, limit: int) -> int | None:
    """The client count to run instead of `clients` under `limit` (None: `clients` fits, or the
    limit allows too few of them for the point to stand for its count)."""
    if fd_shortfall(clients, limit) is None:
        return None
    capped = fd_capacity(limit)
    return capped if capped >= FD_CAP_SHARE * clients else None


def pick_cores() -> tuple[str | None, str | None]:
    """Two distinct cores for server and generator, or (None, None) if pinning is impossible."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or shutil.which("taskset") is None:
        print("warning: fewer than 2 cores or no taskset; server and generator are not pinned")
        return None, None
    return str(cores[0]), str(cores[1])


def pinned(core: str | None, argv: list[str]) -> list[str]:
    """`argv` under `taskset -c core` (taskset execs, so the pid stays the program's own)."""
    return argv if core is None else ["taskset", "-c", core, *argv]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> None:
    """Block until `port` accepts TCP connections; raise if the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server not listening on port {port} after {timeout:.0f}s")


def wait_children(proc: subprocess.Popen[bytes], count: int, timeout: float = 30) -> list[int]:
    """The pids of `proc`'s `count` child processes (the workers of ``aiosio run --workers N``),
    once it has started them all."""
    deadline = time.monotonic() + timeout
    while True:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{proc.pid}/task").iterdir():
                found += [int(p) for p in (task / "children").read_text().split()]
        if len(found) >= count:
            return found
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server started {len(found)} of its {count} workers")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate `proc` (SIGTERM, then SIGKILL after 5 s) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: ``AIOSIO_BENCH_PROFILE=<dir>``: profile the Python servers (see servers/common.py); with
#: ``AIOSIO_BENCH_PROFILER=py-spy`` the harness attaches py-spy to each instead of cProfile, with
#: the options in ``AIOSIO_BENCH_PYSPY_ARGS`` (default ``--native``: C frames included; py-spy
#: then pauses the server for each sample, which ``--nonblocking`` would not, but the two exclude
#: each other).
PROFILE_ENV, PROFILER_ENV = "AIOSIO_BENCH_PROFILE", "AIOSIO_BENCH_PROFILER"
PYSPY_ARGS_ENV = "AIOSIO_BENCH_PYSPY_ARGS"
PY_SPY = Path(sys.executable).with_name("py-spy")


def py_spy_dir() -> Path | None:
    """The directory py-spy profiles go to, if py-spy profiling was asked for."""
    out = os.environ.get(PROFILE_ENV)
    if not out or os.environ.get(PROFILER_ENV, "cprofile") != "py-spy":
        return None
    if not PY_SPY.exists() and shutil.which("py-spy") is None:
        raise SystemExit("py-spy not found: pip install py-spy (the dev extras have it)")
    return Path(out)


def is_python(argv: Sequence[str]) -> bool:
    """Whether `argv` runs a Python server (possibly behind ``env VAR=...``)."""
    words = [w for w in argv if w != "env" and "=" not in w]
    return bool(words) and Path(words[0]).name.startswith("python")


@contextlib.contextmanager
def py_spy(pid: int, argv: Sequence[str], port: int, out: Path, log: TextIO) -> Iterator[None]:
    """py-spy recording the server `pid` (its worker processes too) until it exits: a flame graph
    ``<out>/<script>-<port>.svg`` (``.json`` for ``--format speedscope``), by default with native
    frames (time in aiohttp's C parser, orjson or uvloop shows as such instead of being charged to
    the Python caller)."""
    script = next((Path(w).stem for w in argv if w.endswith(".py")), Path(argv[-1]).name)
    out.mkdir(parents=True, exist_ok=True)
    exe = str(PY_SPY) if PY_SPY.exists() else "py-spy"
    options = os.environ.get(PYSPY_ARGS_ENV, "--native").split()
    fmt = next((options[i + 1] for i, o in enumerate(options[:-1]) if o in ("--format", "-f")), "")
    suffix = {"speedscope": ".json", "raw": ".txt", "chrometrace": ".json"}.get(fmt, ".svg")
    svg = out / f"{script}-{port}{suffix}"
    cmd = [exe, "record", "--pid", str(pid), "--subprocesses", "--output", str(svg), *options]
    spy = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        # The server has been stopped: py-spy sees it exit and writes its file.
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        if not svg.exists():
            print(f"warning: py-spy wrote no {svg} (exit code {spy.returncode}; see the run's log)")


@contextlib.contextmanager
def server(argv: list[str], core: str | None, log: TextIO) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start a fresh server on a free port, wait until it listens, and stop it afterwards."""
    port = free_port()
    spy_dir = py_spy_dir() if is_python(argv) else None
    env = None
    if spy_dir is not None:  # py-spy, not cProfile as well
        env = {k: v for k, v in os.environ.items() if k != PROFILE_ENV}
    proc = subprocess.Popen(
        pinned(core, [*argv, "--port", str(port)]),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    with contextlib.ExitStack() as stack:
        try:
            wait_listening(proc, port)
            if spy_dir is not None:
                stack.enter_context(py_spy(proc.pid, argv, port, spy_dir, log))
            yield proc, port
        finally:
            stop(proc)


def run_loadgen(
    args: list[str],
    port: int,
    server_pid: int,
    cores: tuple[str | None, str | None],
    timeout: float,
    log: TextIO,
    *,
    port2: int | None = None,
    more_pids: Sequence[int] = (),
    redis_pid: int | None = None,
) -> dict[str, Any]:
    """Run one generator scenario and return its JSON result ({"ok": False, ...} on failure).

    `cores` is (server core, generator core); the generator runs on the second and watches how
    busy the first is. The cluster scenarios add the second server's `port2` (half of the clients
    go there), its pid in `more_pids` (server CPU is the sum) and the redis-server's pid.
    """
    server_core, core = cores
    extra: list[str] = []
    if port2 is not None:
        extra += ["--port2", str(port2)]
    if redis_pid is not None:
        extra += ["--redis-pid", str(redis_pid)]
    argv = [
        NODE,
        str(LOADGEN),
        *args,
        *extra,
        "--port",
        str(port),
        "--server-pid",
        ",".join(str(pid) for pid in (server_pid, *more_pids)),
        # One argument: "-1" (not pinned) would read as an option of its own.
        f"--server-core={server_core if server_core is not None else -1}",
        "--clock-ticks",
        str(os.sysconf("SC_CLK_TCK")),
    ]
    try:
        done = subprocess.run(
            pinned(core, argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        return {"ok": False, "timed_out": True, "error": f"load generator timed out after {timeout:.0f}s"}
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"ok": False, "error": f"load generator exited {done.returncode} without a result"}
    return result
